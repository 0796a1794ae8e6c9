# Writes the JPEG reference files of tests/workflows/test_jpeg_decode.cpp with
# Pillow (Debian python3-pil, which decodes with the same libjpeg-turbo):
#   /usr/bin/python3 tests/workflows/data/make_jpeg_reference.py
# color_420.jpg: 16x16 RGB, quality 75, 4:2:0 chroma (fancy upsampling shows);
# gray.jpg: 16x16 grayscale; cmyk.jpg: 8x8 CMYK (to be rejected).
# *.pil.rgb: what Pillow decodes, as torchvision's loader does (convert("RGB")),
# 16x16x3 bytes, row-major, R G B interleaved.
import os
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
color = Image.new("RGB", (16, 16))
color.putdata([((x * 16 + y * 5) % 256, 255 * ((x // 3 + y // 5) % 2), (x * y * 7) % 256)
               for y in range(16) for x in range(16)])
color.save(os.path.join(here, "color_420.jpg"), quality=75, subsampling=2)
gray = Image.new("L", (16, 16))
gray.putdata([(x * 13 + y * 29 + 40 * ((x + y) % 2)) % 256 for y in range(16) for x in range(16)])
gray.save(os.path.join(here, "gray.jpg"), quality=90)
Image.new("CMYK", (8, 8), (10, 200, 30, 5)).save(os.path.join(here, "cmyk.jpg"))
for name in ("color_420", "gray"):
    with Image.open(os.path.join(here, name + ".jpg")) as im:
        with open(os.path.join(here, name + ".pil.rgb"), "wb") as out:
            out.write(im.convert("RGB").tobytes())
