"""The direct .wandb reader against real files written by the SDK, and against `wandb leet inspect`
(the supported reader), so a change in W&B's private format fails here first."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.knowledge.record_log import RecordLogError, read_record_log
from tests.support.fixtures import offline_project  # noqa: F401

WANDB_BIN = Path(sys.executable).with_name("wandb")


def _leet(run_dir: Path, *extra: str) -> str:
    out = subprocess.run([str(WANDB_BIN), "leet", "inspect", "--json", *extra, str(run_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_reader_agrees_with_leet_inspect(offline_project) -> None:  # noqa: F811
    for run_dir in find_run_dirs(offline_project.wandb_dir):
        raw = parse_run_dir(run_dir)
        ref = json.loads(_leet(run_dir, "--summary"))
        assert raw.run_id == ref["run_id"]
        assert raw.config == ref["config"]
        assert raw.exit_code == ref["exit_code"]
        # The SDK writes NaN as JSON null; leet omits null keys, we keep them as None.
        visible = {k: v for k, v in raw.summary.items() if not k.startswith("_") and v is not None}
        assert visible == {k: v for k, v in ref["summary"].items() if not k.startswith("_")}
        records = [json.loads(line) for line in _leet(run_dir).splitlines() if line.strip()]
        history = [r["history"]["item"] for r in records if r["type"] == "history"]
        assert [row.get("val/acc") for row in raw.history] == [row.get("val/acc") for row in history]


def test_truncated_file_keeps_the_complete_records(offline_project, tmp_path: Path) -> None:  # noqa: F811
    run_dir = next(d for d in find_run_dirs(offline_project.wandb_dir) if parse_run_dir(d).state == "finished")
    full = read_record_log(next(run_dir.glob("run-*.wandb")))
    assert not full.truncated
    data = next(run_dir.glob("run-*.wandb")).read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 200):
        copy = tmp_path / f"cut{cut}"
        shutil.copytree(run_dir, copy)
        (next(copy.glob("run-*.wandb"))).write_bytes(data[:cut])
        log = read_record_log(next(copy.glob("run-*.wandb")))
        assert log.truncated
        assert log.payloads == full.payloads[: len(log.payloads)]
        raw = parse_run_dir(copy)
        assert raw.state == "incomplete"  # the exit record is gone: treated as a killed run


def test_flipped_byte_stops_at_the_damage(offline_project, tmp_path: Path) -> None:  # noqa: F811
    run_dir = find_run_dirs(offline_project.wandb_dir)[0]
    data = bytearray(next(run_dir.glob("run-*.wandb")).read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "run-x.wandb"
    path.write_bytes(bytes(data))
    log = read_record_log(path)
    assert log.truncated
    assert len(log.payloads) < len(read_record_log(next(run_dir.glob("run-*.wandb"))).payloads)


@pytest.mark.parametrize("content", [b"", b"not a wandb file at all", b"LEVELDB" + bytes(100)])
def test_not_a_run_log_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "run-bad.wandb"
    path.write_bytes(content)
    with pytest.raises(RecordLogError, match="run-bad.wandb"):
        read_record_log(path)


def test_records_spanning_blocks_round_trip(tmp_path: Path) -> None:
    from tests.support.record_log_writer import write_record_log

    payloads = [b"a" * 10, bytes(range(256)) * 300, b"b" * 32_760, b"", b"c" * 100_000, b"tail"]
    path = tmp_path / "run-big.wandb"
    write_record_log(path, payloads)
    log = read_record_log(path)
    assert not log.truncated and log.payloads == payloads
    # Cut inside the 100 KB record (which spans four blocks): everything before it survives.
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 2_000])
    log = read_record_log(path)
    assert log.truncated and log.payloads == payloads[:4]
