"""`metallmix-wandb sync` and `similar` as a user runs them, on real offline runs and real Qdrant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from tests.support.fixtures import PROJECT, OfflineProject, offline_project  # noqa: F401
from tests.support.require import require

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_sync_then_similar_from_meta_features_json(offline_project: OfflineProject, tmp_path: Path) -> None:  # noqa: F811
    q = str(tmp_path / "kb")
    code, out = _invoke("sync", "--project", PROJECT, "--offline-dir", str(offline_project.wandb_dir),
                        "--qdrant-path", q)
    assert code == 0, out
    assert f"synced {offline_project.finished}" in out and "NaN metric" in out and "incomplete" in out
    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps({"n_instances": 48_000, "n_classes": 11, "modality": "ct", "site": "hospital A"}))
    code, out = _invoke("similar", "--project", PROJECT, "--meta-features", str(mf), "-k", "3", "--json",
                        "--qdrant-path", q)
    assert code == 0, out
    result = json.loads(out)
    assert result["meta_features"]["modality"] == "CT" and result["meta_features"]["site"] == "hospital A"
    assert [n["dataset"] for n in result["neighbours"]][:2] == ["/data/big_ct.npz"] * 2
    assert len(result["neighbours"]) == 3
    code, out = _invoke("similar", "--project", PROJECT, "--meta-features", str(mf), "--qdrant-path", q,
                        "--exclude-dataset", "/data/big_ct.npz")
    assert code == 0 and "big_ct" not in out and "nearest experiments" in out
    code, out = _invoke("similar", "--project", PROJECT, "--meta-features", str(mf), "--qdrant-path", q,
                        "--exclude-dataset", "big_ct", "--json")  # the short name works too
    assert code == 0 and "/data/big_ct.npz" not in [n["dataset"] for n in json.loads(out)["neighbours"]]
    mf.write_text(json.dumps({"n_instances": 48_000, "n_classes": 11, "site": "A\x1b[2J\x1b]0;owned\x07\u202eB"}))
    code, out = _invoke("similar", "--project", PROJECT, "--meta-features", str(mf), "--qdrant-path", q)
    assert code == 0 and "site=A" in out and not any(c in out for c in ("\x1b", "\x07", "\u202e"))


def test_similar_from_a_real_image_dataset(offline_project: OfflineProject, tmp_path: Path) -> None:  # noqa: F811
    require((SHARED / "breastmnist_28.npz").exists(), "real images", f"expected at {SHARED}")
    q = str(tmp_path / "kb")
    assert _invoke("sync", "--project", PROJECT, "--offline-dir", str(offline_project.wandb_dir), "--qdrant-path", q)[0] == 0
    code, out = _invoke("similar", "--project", PROJECT, "--data", str(SHARED / "breastmnist_28.npz"),
                        "--json", "--qdrant-path", q)
    assert code == 0, out
    result = json.loads(out)
    assert result["meta_features"]["n_instances"] == 546 and result["meta_features"]["modality"] == "US"
    assert result["neighbours"][0]["dataset"] == "/data/small_us.npz"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["similar", "--project", PROJECT, "-k", "2"], "exactly one of --data"),
        (["sync", "--project", PROJECT, "--offline-dir", "/nonexistent/dir"], "not found"),
        (["similar", "--project", "never-synced", "--meta-features", "{mf}"], "run `metallmix-wandb sync` first"),
    ],
)
def test_bad_input_gets_a_clear_message(args: list[str], message: str, tmp_path: Path) -> None:
    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps({"n_instances": 10}))
    args = [a.replace("{mf}", str(mf)) for a in args] + ["--qdrant-path", str(tmp_path / "kb")]
    code, out = _invoke(*args)
    assert code == 2 and message in out and "Traceback" not in out


def test_corrupt_meta_features_json(tmp_path: Path) -> None:
    mf = tmp_path / "mf.json"
    mf.write_text('{"n_instances": [1, 2]}')
    code, out = _invoke("similar", "--project", PROJECT, "--meta-features", str(mf), "--qdrant-path", str(tmp_path))
    assert code == 2 and "n_instances" in out


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from click.testing import CliRunner; from metallmix_wandb.cli import main;"
            "r = CliRunner().invoke(main, ['sync', '--help']); assert r.exit_code == 0, r.output;"
            "heavy = [m for m in ('wandb', 'torch', 'qdrant_client', 'xgboost', 'shap', 'openai', 'numpy')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
