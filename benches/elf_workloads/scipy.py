import numpy as np, scipy, scipy.linalg, scipy.optimize
rng = np.random.default_rng(1)
m = rng.random((120, 80))
u, s, vt = scipy.linalg.svd(m, full_matrices=False)
assert np.allclose(u @ np.diag(s) @ vt, m), "svd does not reconstruct"
r = scipy.optimize.minimize(scipy.optimize.rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method="BFGS")
assert r.success and np.allclose(r.x, 1.0, atol=1e-4), r
root = scipy.optimize.brentq(lambda x: x**3 - 2, 0, 2)
assert abs(root - 2 ** (1 / 3)) < 1e-10
print("ok scipy", scipy.__version__, round(float(s[0]), 6))
