#!/usr/bin/env python3
"""Writes src/Kernels/Tokenizers/Unicode/normalization.txt, the data UnicodeNormalizer reads.

Run with a Python whose unicodedata has the wanted Unicode version (3.13: Unicode 15.1):
    python3 scripts/unicode-normalization-table.py > src/Kernels/Tokenizers/Unicode/normalization.txt
Lines (hex code points):
    c FIRST LAST CLASS    canonical combining class of a range (non-zero classes only)
    d CP A [B]            canonical mapping (one level, as in UnicodeData.txt)
    x CP A B              canonical pair mapping of a composition-excluded character
    k CP A B ...          compatibility mapping (one level)
Hangul syllables are algorithmic and not listed.
"""
import sys
import unicodedata as u

out = sys.stdout
out.write(f"# Unicode {u.unidata_version} normalization data, from scripts/unicode-normalization-table.py\n")
run = None
for cp in range(0x110000 + 1):
    ccc = u.combining(chr(cp)) if cp < 0x110000 else 0
    if run and (ccc != run[2] or cp != run[1] + 1):
        out.write(f"c {run[0]:X} {run[1]:X} {run[2]}\n")
        run = None
    if ccc and run is None:
        run = [cp, cp, ccc]
    elif ccc:
        run[1] = cp
for cp in range(0x110000):
    if 0xAC00 <= cp <= 0xD7A3:
        continue
    raw = u.decomposition(chr(cp))
    if not raw:
        continue
    parts = raw.split()
    if parts[0].startswith("<"):
        out.write("k " + " ".join([f"{cp:X}"] + parts[1:]) + "\n")
        continue
    excluded = len(parts) == 2 and u.normalize("NFC", chr(cp)) != chr(cp)
    out.write(("x " if excluded else "d ") + " ".join([f"{cp:X}"] + parts) + "\n")
