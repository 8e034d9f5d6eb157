"""Direct reader of W&B's offline `run-<id>.wandb` record log.

The file is a LevelDB-style log (DESIGN.md §5): a 7-byte header (`:W&B`, magic 0xBEE1, version 0),
then 32 KiB blocks of records, each with a 7-byte header (CRC32, length, type full/first/middle/last)
whose payloads are protobuf `Record`s from `wandb.proto.wandb_internal_pb2`.

`wandb leet inspect` is the supported reader but costs a process start per run (~1 s); this one
parses a run in about a millisecond. The format is private, so the wandb versions are pinned in
pyproject.toml and a test checks this reader against `leet inspect`. A truncated or corrupt tail
(a killed run) ends the read: what came before it is kept and `truncated` is set.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER_IDENT = b":W&B"
HEADER_MAGIC = 0xBEE1
HEADER_VERSION = 0
HEADER = struct.Struct("<4sHB")
RECORD_HEADER = struct.Struct("<IHB")
BLOCK_SIZE = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class RecordLogError(ValueError):
    """The file is not a W&B record log at all (as opposed to a log with a damaged tail)."""


@dataclass
class RecordLog:
    payloads: list[bytes]
    truncated: bool


def _crc_ok(crc: int, rtype: int, data: bytes) -> bool:
    return zlib.crc32(data, zlib.crc32(bytes([rtype]))) & 0xFFFFFFFF == crc


def _chunks(buf: bytes) -> Iterator[tuple[int, bytes] | None]:
    """Yield (type, data) chunks; yield None once at a damaged or cut-off tail and stop."""
    pos = HEADER.size
    while pos < len(buf):
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < RECORD_HEADER.size:
            pos += left_in_block  # block trailer padding
            continue
        if pos + RECORD_HEADER.size > len(buf):
            yield None
            return
        crc, length, rtype = RECORD_HEADER.unpack_from(buf, pos)
        if crc == 0 and length == 0 and rtype == 0:
            # Zero padding: the writer preallocated or stopped mid-block.
            if not any(buf[pos : min(len(buf), pos + left_in_block)]):
                pos += left_in_block
                if pos >= len(buf):
                    return
                continue
        start = pos + RECORD_HEADER.size
        end = start + length
        if rtype not in (FULL, FIRST, MIDDLE, LAST) or end > len(buf) or length > left_in_block:
            yield None
            return
        data = buf[start:end]
        if not _crc_ok(crc, rtype, data):
            yield None
            return
        yield rtype, data
        pos = end


def read_record_log(path: Path) -> RecordLog:
    """Return the raw protobuf payloads of every complete record, in order."""
    buf = Path(path).read_bytes()
    if len(buf) < HEADER.size:
        raise RecordLogError(f"{path}: too short to be a W&B run log ({len(buf)} bytes)")
    ident, magic, version = HEADER.unpack_from(buf, 0)
    if ident != HEADER_IDENT or magic != HEADER_MAGIC or version != HEADER_VERSION:
        raise RecordLogError(f"{path}: not a W&B run log (bad header {ident!r}, {magic:#x}, v{version})")
    payloads: list[bytes] = []
    pending: list[bytes] | None = None
    truncated = False
    for chunk in _chunks(buf):
        if chunk is None:
            truncated = True
            break
        rtype, data = chunk
        if rtype == FULL:
            payloads.append(data)
            pending = None
        elif rtype == FIRST:
            pending = [data]
        elif pending is not None:
            pending.append(data)
            if rtype == LAST:
                payloads.append(b"".join(pending))
                pending = None
    if pending is not None:
        truncated = True
    return RecordLog(payloads=payloads, truncated=truncated)
