"""Exercise numpy (BLAS/LAPACK through its bundled openblas, FFT, random, numpy.testing) and pandas
(groupby, time zones, resampling, CSV parsing, pandas.testing). Asserts what it expects and prints a
deterministic JSON summary. Usage: python numpy_pandas.py"""

import io
import json

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

rng = np.random.default_rng(0)
a = rng.standard_normal((60, 60))
assert_allclose(a @ np.linalg.inv(a), np.eye(60), atol=1e-8)
w = np.linalg.eigvalsh(a + a.T)
x = np.linalg.solve(a, np.ones(60))
assert_allclose(a @ x, np.ones(60), atol=1e-9)
spectrum = np.fft.rfft(np.arange(16.0))

df = pd.DataFrame(
    {
        "k": list("abcab") * 20,
        "v": np.arange(100.0),
        "t": pd.date_range("2024-03-30", periods=100, freq="h", tz="Europe/Paris"),
    }
)
g = df.groupby("k")["v"].agg(["sum", "mean", "count"])
pd.testing.assert_frame_equal(g, g.copy())
daily = df.set_index("t")["v"].resample("D").sum()
csv = pd.read_csv(io.StringIO("a,b\n1,x\n2,y\n"))
out = {
    "eig_sum": round(float(w.sum()), 6),
    "fft0": float(spectrum[0].real),
    "groups": g.reset_index().to_dict(orient="records"),
    "daily": [float(v) for v in daily.to_numpy()],
    "utc_offsets": sorted({str(t.utcoffset()) for t in df["t"]}),
    "csv": csv.to_dict(orient="list"),
    "numpy": np.__version__,
    "pandas": pd.__version__,
}
assert out["utc_offsets"] == ["1:00:00", "2:00:00"], out  # DST change on 2024-03-31
print(json.dumps(out, sort_keys=True))
