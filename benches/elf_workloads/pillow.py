import io
from PIL import Image
im = Image.new("RGB", (256, 256))
im.putdata([(x, y, (x * y) % 256) for y in range(256) for x in range(256)])
small = im.resize((64, 48), Image.Resampling.LANCZOS)
for fmt in ("PNG", "JPEG", "WEBP"):
    buf = io.BytesIO()
    small.save(buf, fmt)
    back = Image.open(io.BytesIO(buf.getvalue()))
    back.load()
    assert back.size == (64, 48) and back.format == fmt, (fmt, back.size, back.format)
print("ok pillow", Image.__version__ if hasattr(Image, "__version__") else "")
