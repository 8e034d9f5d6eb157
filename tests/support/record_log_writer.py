"""Write a W&B-style record log, the inverse of knowledge/record_log.py. Used to build large
synthetic projects from real runs (benchmarks) and to test records that span 32 KiB blocks."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

from metallmix_wandb.knowledge.record_log import (
    BLOCK_SIZE, FIRST, FULL, HEADER, HEADER_IDENT, HEADER_MAGIC, HEADER_VERSION, LAST, MIDDLE, RECORD_HEADER,
)


def encode_record_log(payloads: Iterable[bytes]) -> bytes:
    out = bytearray(HEADER.pack(HEADER_IDENT, HEADER_MAGIC, HEADER_VERSION))
    for data in payloads:
        first = True
        while True:
            left = BLOCK_SIZE - len(out) % BLOCK_SIZE
            if left < RECORD_HEADER.size:
                out += bytes(left)
                continue
            room = left - RECORD_HEADER.size
            chunk, data = data[:room], data[room:]
            last = not data
            rtype = FULL if first and last else FIRST if first else LAST if last else MIDDLE
            crc = zlib.crc32(chunk, zlib.crc32(bytes([rtype]))) & 0xFFFFFFFF
            out += RECORD_HEADER.pack(crc, len(chunk), rtype) + chunk
            first = False
            if last:
                break
    return bytes(out)


def write_record_log(path: Path, payloads: Iterable[bytes]) -> None:
    Path(path).write_bytes(encode_record_log(payloads))
