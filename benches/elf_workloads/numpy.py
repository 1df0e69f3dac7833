import numpy as np
rng = np.random.default_rng(0)
a = rng.random((300, 300))
b = a @ a.T + 300 * np.eye(300)
inv = np.linalg.inv(b)
assert np.allclose(b @ inv, np.eye(300), atol=1e-8), "inv(b) @ b != I"
print("ok numpy", np.__version__, float(np.trace(inv)))
