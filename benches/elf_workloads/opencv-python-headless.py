import numpy as np, cv2
a = np.zeros((64, 64), np.float32)
a[32, 32] = 1.0
b = cv2.GaussianBlur(a, (7, 7), 1.5)
assert b.shape == (64, 64) and abs(float(b.sum()) - 1.0) < 1e-4 and 0 < b[32, 32] < 1 and b[30, 30] > 0
print("ok cv2", cv2.__version__)
