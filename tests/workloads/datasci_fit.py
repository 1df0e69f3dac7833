"""A small data-science job: numpy linear algebra, a pandas group-by, a scipy optimisation and
FFT, a scikit-learn pipeline fit and score, a matplotlib figure rendered to PNG in memory. As a
workload for `venvslim slim --run` (tests/it/real_run.rs); exits non-zero if anything is off."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import fft, optimize, stats  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

rng = np.random.default_rng(0)
a = rng.normal(size=(50, 50))
assert np.allclose(a @ np.linalg.inv(a), np.eye(50), atol=1e-8)

df = pd.DataFrame({"g": rng.integers(0, 3, 300), "x": rng.normal(size=300)})
means = df.groupby("g")["x"].mean()
assert len(means) == 3

res = optimize.minimize(lambda v: (v[0] - 3) ** 2 + (v[1] + 1) ** 2, [0.0, 0.0])
assert np.allclose(res.x, [3, -1], atol=1e-4), res.x
assert abs(fft.fft(np.ones(8))[0] - 8) < 1e-9
assert stats.norm.cdf(0) == 0.5

X, y = load_iris(return_X_y=True)  # reads the CSV shipped in sklearn/datasets/data
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
score = cross_val_score(model, X, y, cv=3).mean()
assert score > 0.9, score

fig, ax = plt.subplots()
ax.plot(means.index, means.values)
buf = io.BytesIO()
fig.savefig(buf, format="png")
assert buf.getvalue()[:4] == b"\x89PNG"
print("ok", round(score, 3))
