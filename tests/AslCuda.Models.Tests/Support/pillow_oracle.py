"""Pillow (and torchvision) as the oracle of the image tests: run by /usr/bin/python3 (Debian's python3-pil).

Reads a JSON list of jobs on stdin, writes one JSON result per job to stdout. Jobs:
  {"op": "rgb", "path": P, "out": O}
      Image.open(P).convert('RGB') written to O as raw RGB bytes; result {"width", "height", "mode", "format"}
      or {"error": message} when Pillow cannot open or load the file.
  {"op": "resize", "path": P, "width": W, "height": H, "filter": "bicubic"|"bilinear", "out": O}
      Image.open(P).convert('RGB').resize((W, H), filter) as raw RGB bytes.
  {"op": "torchvision", "path": P, "size": S, "out": O}
      torchvision.transforms.Resize((S, S)) on the RGB picture (validate.py's path), raw RGB bytes.
  {"op": "make", "dir": D, "seed": N}
      writes test pictures in every mode the decoder must handle into D; result {"files": [names]}.
  {"op": "synthetic", "path": P, "width": W, "height": H, "seed": N}
      a seeded RGB picture of W x H with smooth areas, sharp edges and noise, saved losslessly as PNG to P.
"""
import json
import struct
import sys
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def synthetic(width, height, seed):
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        fx, fy = rs.uniform(0.02, 0.3, size=2)
        smooth = 127.5 + 100 * np.sin(fx * x + c) * np.cos(fy * y - c)
        channels.append(smooth)
    image = np.stack(channels, axis=2)
    # sharp-edged rectangles and pure black and white areas stress the clipping of the negative bicubic lobes
    for _ in range(max(1, (width * height) // 2000)):
        x0, y0 = rs.randint(0, width), rs.randint(0, height)
        x1, y1 = min(width, x0 + rs.randint(1, max(2, width // 3))), min(height, y0 + rs.randint(1, max(2, height // 3)))
        image[y0:y1, x0:x1] = rs.choice([0, 255], size=3)
    image += rs.normal(0, 12, size=image.shape)
    return Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGB")


def filtered_rows(array, pixel_bytes):
    """The PNG row filters applied in turn (None, Sub, Up, Average, Paeth, ...), so a reader must undo all five."""
    rows = [np.frombuffer(array[r].tobytes(), np.uint8).astype(np.int64) for r in range(array.shape[0])]
    out = []
    for r, row in enumerate(rows):
        kind = r % 5
        above = rows[r - 1] if r > 0 else np.zeros_like(row)
        left = np.concatenate([np.zeros(pixel_bytes, np.int64), row[:-pixel_bytes]])
        upper_left = np.concatenate([np.zeros(pixel_bytes, np.int64), above[:-pixel_bytes]])
        if kind == 0:
            predicted = np.zeros_like(row)
        elif kind == 1:
            predicted = left
        elif kind == 2:
            predicted = above
        elif kind == 3:
            predicted = (left + above) // 2
        else:
            estimate = left + above - upper_left
            to_left, to_above, to_upper_left = abs(estimate - left), abs(estimate - above), abs(estimate - upper_left)
            predicted = np.where((to_left <= to_above) & (to_left <= to_upper_left), left,
                                 np.where(to_above <= to_upper_left, above, upper_left))
        out.append(bytes([kind]) + ((row - predicted) % 256).astype(np.uint8).tobytes())
    return b"".join(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, array, colour_type, bit_depth, interlaced=False):
    """A PNG written directly (Pillow cannot write 16-bit RGB, grey + alpha or interlaced files), every row filter used."""
    height, width = array.shape[:2]
    pixel_bytes = array.itemsize * (array.shape[2] if array.ndim == 3 else 1)
    if interlaced:
        raw = b"".join(filtered_rows(array[y0::dy, x0::dx], pixel_bytes)
                       for x0, y0, dx, dy in ADAM7 if x0 < width and y0 < height)
    else:
        raw = filtered_rows(array, pixel_bytes)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 1 if interlaced else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make(directory, seed):
    base = synthetic(97, 61, seed)
    rs = np.random.RandomState(seed + 1)
    files = []

    def save(name, image, **options):
        image.save(f"{directory}/{name}", **options)
        files.append(name)

    for subsampling in (0, 1, 2):
        save(f"rgb_subsampling{subsampling}.jpg", base, quality=90, subsampling=subsampling)
    save("rgb_progressive.jpg", base, quality=85, progressive=True)
    save("grey.jpg", base.convert("L"), quality=90)
    save("cmyk.jpg", base.convert("CMYK"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation "rotate 90": Image.open does not apply it, nor may we
    save("exif_rotated.jpg", base, quality=90, exif=exif.tobytes())
    save("rgb.png", base)
    save("grey.png", base.convert("L"))
    save("grey_alpha.png", base.convert("LA"))
    save("palette.png", base.convert("P"))
    save("palette_64.png", base.quantize(64))
    save("palette_4bit.png", base.quantize(16), bits=4)
    save("palette_transparent.png", base.convert("P"), transparency=7)
    save("bilevel.png", base.convert("1"))
    rgba = np.array(base.convert("RGBA"))
    rgba[..., 3] = rs.randint(0, 256, size=rgba.shape[:2])
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", struct.pack(">I", 100000))  # gamma 1.0: a colour-managed decoder would change every pixel
    save("gamma.png", base, pnginfo=info)
    save("rgb.gif", base)
    save("rgb.bmp", base)
    save("rgb.webp", base, quality=80)

    wide = np.array(base).astype(np.int64)
    rgb16 = np.clip(wide * 257 + rs.randint(-128, 128, size=wide.shape), 0, 65535).astype(">u2")
    write_png(f"{directory}/rgb16.png", rgb16, 2, 16)
    alpha16 = rs.randint(0, 65536, size=wide.shape[:2] + (1,)).astype(">u2")
    write_png(f"{directory}/rgba16.png", np.concatenate([rgb16, alpha16], axis=2), 6, 16)
    write_png(f"{directory}/grey_alpha16.png", np.concatenate([rgb16[..., :1], alpha16], axis=2), 4, 16)
    # 16-bit grey: Pillow clips to 0..255 on conversion; both ranges matter
    write_png(f"{directory}/grey16.png", rgb16[..., 0].copy(), 0, 16)
    low = (wide[..., 0] + rs.randint(0, 40, size=wide.shape[:2])).astype(">u2")  # 0..294: exact values and clipping
    write_png(f"{directory}/grey16_low.png", low, 0, 16)
    write_png(f"{directory}/grey16_interlaced.png", low, 0, 16, interlaced=True)
    write_png(f"{directory}/rgb16_interlaced.png", rgb16, 2, 16, interlaced=True)
    files += ["rgb16.png", "rgba16.png", "grey_alpha16.png", "grey16.png", "grey16_low.png", "grey16_interlaced.png",
              "rgb16_interlaced.png"]
    # a 16-bit grey PNG as Pillow writes it (mode I;16), with Pillow's own choice of row filters
    save("grey16_pillow.png", Image.fromarray(low.astype("<u2"), "I;16"))
    return files


def rgb_of(path):
    with Image.open(path) as image:
        mode, fmt = image.mode, image.format
        return image.convert("RGB"), mode, fmt


def run(job):
    op = job["op"]
    if op == "make":
        return {"files": make(job["dir"], job["seed"])}
    if op == "synthetic":
        synthetic(job["width"], job["height"], job["seed"]).save(job["path"])
        return {}
    try:
        image, mode, fmt = rgb_of(job["path"])
    except Exception as e:  # the decoder's error cases are compared with Pillow's refusal
        return {"error": f"{type(e).__name__}: {e}"}
    if op == "resize":
        image = image.resize((job["width"], job["height"]), FILTERS[job["filter"]])
    elif op == "torchvision":
        import torchvision.transforms as T
        image = T.Resize((job["size"], job["size"]))(image)
    with open(job["out"], "wb") as f:
        f.write(image.tobytes())
    return {"width": image.width, "height": image.height, "mode": mode, "format": fmt}


def main():
    jobs = json.load(sys.stdin)
    json.dump([run(job) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
