#!/usr/bin/env python3
"""Writes face.{png,bmp,gif,tga} from face.pgm (64x64 8-bit grayscale: the decoded pixels of
data/sample/test/happy/Alexis_Bledel_0001.jpg, also copied here as face.jpg) with nothing but the
standard library, so the same picture exists in every format `moodnet predict` reads. PNG, BMP,
GIF (256-grey palette) and TGA are lossless: they hold exactly the JPEG's decoded pixels."""
import struct
import zlib

with open("face.pgm", "rb") as f:
    magic, dims, maxval, rest = f.read().split(b"\n", 3)
w, h = map(int, dims.split())
px = rest[: w * h]
assert magic == b"P5" and maxval == b"255" and len(px) == w * h

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

rows = b"".join(b"\0" + px[y * w : (y + 1) * w] for y in range(h))
with open("face.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))

# BMP: 8-bit with a grey palette, bottom-up rows padded to 4 bytes.
stride = (w + 3) // 4 * 4
data = b"".join(px[y * w : (y + 1) * w] + b"\0" * (stride - w) for y in reversed(range(h)))
palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
offset = 14 + 40 + len(palette)
with open("face.bmp", "wb") as f:
    f.write(b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset))
    f.write(struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 0, len(data), 2835, 2835, 256, 0))
    f.write(palette + data)

# TGA: type 3 (uncompressed grayscale), top-left origin.
with open("face.tga", "wb") as f:
    f.write(struct.pack("<BBBHHBHHHHBB", 0, 0, 3, 0, 0, 0, 0, 0, w, h, 8, 0x20) + px)

# GIF89a: global 256-grey palette; LZW with 9-bit codes throughout (a clear code every 250
# literals keeps the table from growing past 9 bits).
codes, n = [256], 0
for p in px:
    codes.append(p)
    n += 1
    if n == 250:
        codes.append(256)
        n = 0
codes.append(257)
bits = acc = 0
lzw = bytearray()
for c in codes:
    acc |= c << bits
    bits += 9
    while bits >= 8:
        lzw.append(acc & 0xFF)
        acc >>= 8
        bits -= 8
if bits:
    lzw.append(acc & 0xFF)
blocks = b"".join(bytes([len(lzw[i : i + 255])]) + lzw[i : i + 255] for i in range(0, len(lzw), 255))
with open("face.gif", "wb") as f:
    f.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0))
    f.write(b"".join(bytes([i, i, i]) for i in range(256)))
    f.write(b"," + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x08" + blocks + b"\0;")
