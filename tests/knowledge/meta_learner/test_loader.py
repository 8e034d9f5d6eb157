"""The light path of `recommend --no-llm` (knowledge/meta_learner/loader.py, recommend/command.py): it
imports no scikit-learn, xgboost's wrappers and plotting, scipy.special or scipy.stats (only scipy.sparse,
which xgboost.core needs), Qdrant, SHAP, W&B, PyYAML (the space is read from the cache's JSON form) or
(with --json) rich, and recommends exactly what the full path does.

Each side is a fresh `metallmix-wandb` process on the same real knowledge base (tests/support/recommend_kb.py):
the light one as a user runs it; the reference imports scikit-learn before anything else, so xgboost loads
with its scikit-learn wrappers as it did before, reads a cache without search_space.json (the space from its
YAML, as before), and also predicts the chosen config with the stored models through xgboost's scikit-learn
API (XGBRegressor.load_model)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from metallmix_wandb.knowledge.meta_learner.artifact import SPACE_JSON, cache_folder, load_knowledge
from tests.support.recommend_kb import kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT

ROOT = Path(__file__).resolve().parents[3]
NOT_ON_THE_LIGHT_PATH = ("sklearn", "scipy.stats", "scipy.special", "xgboost.sklearn", "pandas", "qdrant_client",
                         "shap", "wandb", "torch", "openai", "rich", "yaml")

RUN = """
import contextlib, io, json, sys
{before}
from metallmix_wandb.cli.commands import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main({args!r}, standalone_mode=False)
finally:
    print("LOADED " + json.dumps(sorted(m for m in {watch!r} if m in sys.modules)), file=sys.stderr)
    print(f"FROZEN {{__import__('gc').get_freeze_count()}}", file=sys.stderr)
sys.stdout.write(out.getvalue())
rec = json.loads(out.getvalue())["recommendation"]
{after}
"""

SKLEARN_API = """
import numpy as np
from xgboost import XGBRegressor
from metallmix_wandb.knowledge.meta_learner.artifact import cache_folder, load_knowledge
from metallmix_wandb.knowledge.meta_learner.features import feature_row
from metallmix_wandb.knowledge.meta_learner.model import MetaLearnerInfo
from metallmix_wandb.settings import load_settings

settings = load_settings(project={project!r})
folder = load_knowledge({project!r}, settings.cache_dir).folder
info = MetaLearnerInfo.model_validate_json((folder / "meta_learner.json").read_text())
X = np.stack([feature_row(info.layout, rec["meta_features"], rec["config"])]).astype(np.float32)
pred = {{}}
for name in ("rank", "raw", "time"):
    model = XGBRegressor()
    model.load_model(str(folder / f"model_{{name}}.ubj"))
    pred[name] = model.predict(X)[0]
print("SKLEARN_API " + json.dumps({{"score": float(np.clip(pred["rank"], 0.0, 1.0)), "raw_metric": float(pred["raw"]),
                                  "train_time_s": float(np.expm1(pred["time"]).clip(min=0.0))}}), file=sys.stderr)
"""


def _run(tmp: Path, args: list[str], before: str = "", after: str = "",
         env: dict[str, str] | None = None) -> tuple[dict, list[str], str]:
    script = RUN.format(before=before, args=args, watch=NOT_ON_THE_LIGHT_PATH, after=after)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return json.loads(done.stdout), json.loads(loaded[len("LOADED "):]), done.stderr


def _without_timings(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "timings"}


def test_recommend_without_llm_is_light_and_identical_to_the_full_path(kb: dict, tmp_path: Path) -> None:  # noqa: F811
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--no-llm", "--no-log",
            "--json"]
    light, loaded, light_err = _run(tmp_path, args)
    assert loaded == []  # no scikit-learn, scipy.special/stats, pandas, Qdrant, SHAP, W&B, rich or PyYAML
    # what the command imported is frozen out of the collector's scans (startup.py)
    frozen = int(next(line for line in light_err.splitlines() if line.startswith("FROZEN "))[7:])
    assert frozen > 10_000  # ~90,000 objects here; none without it

    # The reference reads a cache as written before search_space.json existed: the space from its YAML.
    cache = Path(os.environ["METALLMIX_CACHE_DIR"])
    yaml_only = tmp_path / "yaml_only_cache"
    shutil.copytree(cache, yaml_only)
    (cache_folder(EXPLAIN_PROJECT, yaml_only) / SPACE_JSON).unlink()
    after = SKLEARN_API.format(project=EXPLAIN_PROJECT)
    full, loaded_full, err = _run(tmp_path, args, before="import sklearn", after=after,
                                  env={"METALLMIX_CACHE_DIR": str(yaml_only)})
    assert "sklearn" in loaded_full  # the reference really is the path with scikit-learn loaded
    assert "yaml" in loaded_full  # ... and with the space read from the YAML
    assert _without_timings(light["recommendation"]) == _without_timings(full["recommendation"])
    from_json, from_yaml = (load_knowledge(EXPLAIN_PROJECT, c).space for c in (cache, yaml_only))
    assert from_json == from_yaml and list(from_json.params) == list(from_yaml.params)  # the order too

    api = json.loads(next(line for line in err.splitlines() if line.startswith("SKLEARN_API "))[12:])
    predicted = light["recommendation"]["predicted"]
    assert {k: predicted[k] for k in api} == api


FROZEN_CLIENT = """
import gc, qdrant_client
# gc.get_objects() lists the collector's generations, not the permanent one gc.freeze moves objects to
print("QDRANT_FROZEN " + json.dumps(not any(o is qdrant_client.QdrantClient for o in gc.get_objects())),
      file=sys.stderr)
"""


def test_recommend_with_evidence_freezes_the_qdrant_client_too(kb: dict, tmp_path: Path) -> None:  # noqa: F811
    """--evidence reads the similar runs: Qdrant's client (0.8 s of imports) is frozen too (startup.py)."""
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--no-llm",
            "--no-log", "--evidence", "--json"]
    out, loaded, err = _run(tmp_path, args, after=FROZEN_CLIENT)
    assert out["recommendation"]["evidence"] and "qdrant_client" in loaded
    assert "QDRANT_FROZEN true" in err.splitlines()


def test_knowledge_saved_as_xgboost_text_json_still_loads_and_predicts_the_same(kb: dict, tmp_path: Path) -> None:  # noqa: F811
    """Boosters are saved as UBJSON (4x faster to load); a cache written before, with model_*.json, loads the same."""
    import numpy as np
    import xgboost

    from metallmix_wandb.knowledge.meta_learner.artifact import cache_folder
    from metallmix_wandb.knowledge.meta_learner.model import MODELS, MetaLearner
    from metallmix_wandb.settings import load_settings

    folder = cache_folder(EXPLAIN_PROJECT, load_settings(project=EXPLAIN_PROJECT).cache_dir)
    assert {f"model_{name}.ubj" for name in MODELS} <= {p.name for p in folder.iterdir()}
    old = tmp_path / "old"
    old.mkdir()
    (old / "meta_learner.json").write_bytes((folder / "meta_learner.json").read_bytes())
    for extra in folder.glob("order_*.npz"):  # the Gaussian process has no older format
        (old / extra.name).write_bytes(extra.read_bytes())
    for name in MODELS:
        booster = xgboost.Booster()
        booster.load_model(str(folder / f"model_{name}.ubj"))
        booster.save_model(str(old / f"model_{name}.json"))
    new, before = MetaLearner.load(folder), MetaLearner.load(old)
    X = np.random.default_rng(0).normal(size=(200, new.boosters["rank"].num_features())).astype(np.float32)
    for name in MODELS:
        assert np.array_equal(new.boosters[name].inplace_predict(X), before.boosters[name].inplace_predict(X))
