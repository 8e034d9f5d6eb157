"""The project's knowledge as files: a W&B artifact (type `metallmix-knowledge`) and a local cache.

One folder holds the boosters (XGBoost UBJSON), the SHAP summary (JSON), the digest (markdown), shap's
own bar and beeswarm plots (PNG), the search space (sweep YAML, and as JSON for a fast start-up), the
meta-feature scaler, the LODO quality and a manifest with a SHA-256 per file. Every file is a
deterministic function of the runs: no timestamps, seeded plots. So a re-run over the same runs yields
identical bytes, and W&B (which versions artifacts by content) keeps one version instead of piling up
copies.

The cache `<cache_dir>/knowledge/<project>/` is written to a temporary sibling and renamed into
place, so a crash never leaves half a cache. Later commands read it with `load_knowledge`; online,
a missing cache is filled from the artifact's `:latest` version, published only if every file matches
the manifest's SHA-256.
Tested through tests/knowledge/meta_learner/test_explain.py, tests/cli/test_explain_cli.py and (the
download, at the wire against the loopback W&B backend) tests/knowledge/meta_learner/test_artifact.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality
from metallmix_wandb.knowledge.scaling import MetaScaler
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.knowledge.meta_learner.shap_summary import ShapSummary

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner

KNOWLEDGE_TYPE = "metallmix-knowledge"
SCHEMA_VERSION = 1
SUMMARY, DIGEST, QUALITY, SPACE, SCALER, MANIFEST = (
    "shap_summary.json", "digest.md", "quality.json", "search_space.yaml", "scaler.json", "manifest.json")
SPACE_JSON = "search_space.json"
"""The same sweep config as SPACE, as JSON in the YAML's order: what `load_knowledge` reads, so a
`recommend` does not import and run PyYAML (~25 ms of its start-up). A cache written before has only
the YAML, which is read then."""
BAR_PNG, BEESWARM_PNG = "shap_bar.png", "shap_beeswarm.png"


class KnowledgeError(RuntimeError):
    """No usable knowledge for a project (never built, or the cache/artifact is unreadable)."""


def safe_name(project: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", project)


def artifact_name(project: str) -> str:
    return f"metallmix-knowledge-{safe_name(project)}"


def cache_folder(project: str, cache_dir: Path) -> Path:
    return Path(cache_dir) / "knowledge" / safe_name(project)


class KnowledgeManifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    project: str
    artifact: str
    metric: str
    runs: int
    datasets: int
    quality: str = Field(description="the one-line quality summary")
    meta_learner: str = Field("", description="the meta-learner variant and settings (meta_learner.json has them all)")
    files: dict[str, str] = Field(description="file name -> sha256")
    versions: dict[str, str] = Field(default_factory=dict)


class Knowledge(BaseModel):
    """A project's knowledge as read back from the cache (what recommend/evaluate consume)."""

    folder: Path
    manifest: KnowledgeManifest
    summary: ShapSummary = Field(description="SHAP summary of the ranking model")
    summary_raw: ShapSummary | None = Field(None, description="SHAP summary of the raw-metric model")
    digest: str
    quality: LodoQuality
    space: SearchSpace
    scaler: MetaScaler | None = None

    def learner(self, n_jobs: int | None = None) -> MetaLearner:
        """The fitted meta-learner; a missing or damaged file of it is a KnowledgeError naming the file."""
        from metallmix_wandb.knowledge.meta_learner.loader import load_learner

        try:
            return load_learner(self.folder, n_jobs=n_jobs)
        except Exception as exc:  # noqa: BLE001 - OSError, pydantic, XGBoostError: all an unreadable cache file
            raise KnowledgeError(unreadable_cache(self.folder, self.manifest.project, exc)) from exc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_bundle(folder: Path, project: str, learner: MetaLearner, summary: ShapSummary,
                 summary_raw: ShapSummary, digest: str, scaler: MetaScaler | None,
                 plots: Callable[[Path], list[str]]) -> KnowledgeManifest:
    """Write every knowledge file into `folder` (which must exist) and return the manifest."""
    import shap
    import xgboost
    import yaml

    from metallmix_wandb import __version__

    learner.save(folder)
    _write_json(folder / SUMMARY, {"rank": summary.model_dump(mode="json"),
                                   "raw": summary_raw.model_dump(mode="json")})
    (folder / DIGEST).write_text(digest, encoding="utf-8")
    quality = learner.info.quality
    _write_json(folder / QUALITY, quality.model_dump(mode="json"))
    space = learner.info.search_space()
    header = (f"# The search space the meta-learner for '{project}' models (W&B sweep format).\n"
              "# Without a sweep YAML it was inferred from the runs' configs.\n")
    text = header + yaml.safe_dump(space.to_sweep_config(), sort_keys=False)
    (folder / SPACE).write_text(text, encoding="utf-8")
    (folder / SPACE_JSON).write_text(json.dumps(space.to_sweep_config(), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")  # not sorted: the parameters' order is the space's
    _write_json(folder / SCALER, scaler.model_dump(mode="json") if scaler else None)
    plots(folder)
    manifest = KnowledgeManifest(
        project=project, artifact=artifact_name(project), metric=learner.info.metric, runs=learner.info.runs,
        datasets=len(learner.info.datasets), quality=quality.line(), meta_learner=learner.info.settings.line(),
        files={p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file()},
        versions={"metallmix_wandb": __version__, "xgboost": xgboost.__version__, "shap": shap.__version__},
    )
    _write_json(folder / MANIFEST, manifest.model_dump(mode="json"))
    return manifest


def save_shap_plots(folder: Path, shap_values: np.ndarray, X: np.ndarray, columns: list[str],
                    groups: dict[str, list[int]], log_columns: Sequence[str] = (),
                    max_display: int = 15) -> list[str]:
    """shap's own bar plot (one bar per parameter / meta-feature, one-hot groups summed) and beeswarm
    (one row per model column, coloured by value; log10 of the value for `log_columns`, so 1e-3 is
    not painted like 1e-5), rendered with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import shap

    logs = [j for j, c in enumerate(columns) if c in set(log_columns)]
    X = np.array(X, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        X[:, logs] = np.where(X[:, logs] > 0, np.log10(X[:, logs]), np.nan)
    names = list(groups)
    grouped = np.stack([shap_values[:, idx].sum(axis=1) for idx in groups.values()], axis=1)
    data = np.stack([X[:, idx[0]] if len(idx) == 1 else np.full(len(X), np.nan) for idx in groups.values()],
                    axis=1)
    state = np.random.get_state()  # the beeswarm jitters with the global RNG: seed it, then restore
    try:
        np.random.seed(0)
        for name, expl, plot in (
            (BAR_PNG, shap.Explanation(values=grouped, data=data, feature_names=names), shap.plots.bar),
            (BEESWARM_PNG, shap.Explanation(values=shap_values, data=X, feature_names=list(columns)),
             shap.plots.beeswarm),
        ):
            plt.close("all")
            plot(expl, max_display=max_display, show=False)
            plt.gcf().savefig(folder / name, dpi=90, bbox_inches="tight", metadata={"Software": None})
            plt.close("all")
    finally:
        np.random.set_state(state)
    return [BAR_PNG, BEESWARM_PNG]


def publish_cache(project: str, cache_dir: Path, fill: Callable[[Path], Any]) -> Path:
    """Build the cache folder in a temporary sibling via `fill(folder)`, then swap it into place:
    readers see the old knowledge or the new, never a half-written mix. If `fill` or the swap fails,
    the temporary folder goes and the old cache (if any) stays where it was."""
    target = cache_folder(project, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        fill(tmp)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def verify_bundle(folder: Path) -> KnowledgeManifest:
    """The folder's manifest, once every file it lists is there with its SHA-256: a download is
    published to the cache only if it is exactly what `explain` wrote."""
    try:
        manifest = KnowledgeManifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"no readable {MANIFEST} ({one_line(exc)})") from exc
    bad = damaged_files(folder, manifest)
    if bad:
        raise KnowledgeError(f"{', '.join(bad)} missing or not matching the SHA-256 in {MANIFEST}")
    return manifest


def damaged_files(folder: Path, manifest: KnowledgeManifest) -> list[str]:
    """The files the manifest lists that are missing from `folder` or differ from their SHA-256."""
    return sorted(name for name, digest in manifest.files.items() if Path(name).name != name
                  or not (folder / name).is_file() or _sha256(folder / name) != digest)


def unreadable_cache(folder: Path, project: str, exc: BaseException) -> str:
    """One line for a cache that failed to load: the file to blame (missing, or not what `explain`
    wrote, by the manifest's SHA-256) and how to rebuild it."""
    try:
        manifest = KnowledgeManifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
        bad = damaged_files(folder, manifest)
    except (OSError, ValueError):
        bad = [MANIFEST]
    if bad:
        state = "missing" if not (folder / bad[0]).is_file() else "damaged"
        what = f"the knowledge cache file {folder / bad[0]} is {state}"
    else:
        what = f"the knowledge cache {folder} is unreadable ({one_line(exc, 200)})"
    return f"{what}: run `metallmix-wandb explain --project {project}` to rebuild it"


def one_line(exc: BaseException | str, limit: int = 400) -> str:
    """An error message as one line (SDK messages carry newlines and long retry logs)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class WandbLog(BaseModel):
    """Where the artifact went (or why it did not)."""

    artifact: str
    mode: str = "online"
    run_id: str | None = None
    run_path: str | None = None
    run_dir: str | None = None
    error: str | None = None


def log_knowledge_artifact(folder: Path, manifest: KnowledgeManifest, project: str, entity: str | None,
                           offline: bool, summary: dict[str, Any] | None = None) -> WandbLog:
    """Log the folder as an artifact from a W&B run with job_type `sync` (an offline run when W&B is
    offline). W&B failures are returned, not raised: the local cache already holds the knowledge."""
    name = artifact_name(project)
    mode = "offline" if offline else "online"
    try:
        import wandb

        run = wandb.init(project=project, entity=entity, job_type="sync", name=f"knowledge {project}",
                         mode=mode, dir=os.environ.get("WANDB_DIR"), reinit="create_new",
                         config={"metallmix": {"artifact": name, "runs": manifest.runs,
                                               "metric": manifest.metric}})
    except Exception as exc:  # noqa: BLE001 - wandb raises many types (no key, no server, bad entity)
        return WandbLog(artifact=name, mode=mode, error=f"wandb.init failed: {exc}")
    try:
        artifact = wandb.Artifact(name, type=KNOWLEDGE_TYPE, description="metallmix-wandb meta-learner, SHAP "
                                  "summary and digest", metadata=manifest.model_dump(mode="json"))
        artifact.add_dir(str(folder))
        run.log_artifact(artifact)
        run.log({"shap/bar": wandb.Image(str(folder / BAR_PNG)),
                 "shap/beeswarm": wandb.Image(str(folder / BEESWARM_PNG))})
        for key, value in (summary or {}).items():
            run.summary[key] = value
        result = WandbLog(artifact=f"{name}:latest", mode=mode, run_id=run.id, run_path=run.path,
                          run_dir=str(Path(run.dir).parent))
        run.finish()
        return result
    except Exception as exc:  # noqa: BLE001
        run.finish(exit_code=1)
        return WandbLog(artifact=name, mode=mode, run_id=run.id, error=f"logging the artifact failed: {exc}")


def load_knowledge(project: str, cache_dir: Path, entity: str | None = None,
                   online: bool = False) -> Knowledge:
    """The latest knowledge of a project from the local cache; online, a missing cache is first
    downloaded from the W&B artifact `<entity>/<project>/metallmix-knowledge-<project>:latest`."""
    folder = cache_folder(project, cache_dir)
    if not (folder / MANIFEST).is_file() and online:
        _download(project, cache_dir, entity)
    if not (folder / MANIFEST).is_file():
        raise KnowledgeError(
            f"no meta-learner knowledge for project '{project}' in {folder}: run "
            f"`metallmix-wandb explain --project {project}` (or `sync`, which runs it) first")
    try:
        summaries = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        scaler = json.loads((folder / SCALER).read_text(encoding="utf-8"))
        return Knowledge(
            folder=folder, manifest=KnowledgeManifest.model_validate_json((folder / MANIFEST).read_text()),
            summary=ShapSummary.model_validate(summaries["rank"]),
            summary_raw=ShapSummary.model_validate(summaries["raw"]) if summaries.get("raw") else None,
            digest=(folder / DIGEST).read_text(encoding="utf-8"),
            quality=LodoQuality.model_validate_json((folder / QUALITY).read_text()),
            space=_stored_space(folder),
            scaler=MetaScaler.model_validate(scaler) if scaler else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KnowledgeError(unreadable_cache(folder, project, exc)) from exc


def _stored_space(folder: Path) -> SearchSpace:
    """The cache's search space: its JSON form, or the YAML of a cache written before there was one."""
    if (folder / SPACE_JSON).is_file():
        return SearchSpace.from_sweep_config(json.loads((folder / SPACE_JSON).read_text(encoding="utf-8")))
    return SearchSpace.from_yaml(folder / SPACE)


def _download(project: str, cache_dir: Path, entity: str | None) -> None:
    """Fill the cache from the artifact's `:latest` version; every failure is one KnowledgeError line
    and leaves no cache (publish_cache's temporary folder is removed)."""
    name = f"{artifact_name(project)}:latest"
    path = "/".join(p for p in (entity, project, name) if p)
    hint = (f"run `metallmix-wandb explain --project {project}` where its runs are synced, "
            "or check --entity, the W&B login and the network")
    try:
        import wandb

        api = wandb.Api(timeout=30)
        path = "/".join(p for p in (entity or api.default_entity, project, name) if p)
        artifact = api.artifact(path, type=KNOWLEDGE_TYPE)
    except Exception as exc:  # noqa: BLE001 - no key, no server, no such artifact: all "not available"
        raise KnowledgeError(f"no local knowledge for '{project}' and the W&B artifact {path} is not "
                             f"available ({one_line(exc)}): {hint}") from exc

    def fill(tmp: Path) -> None:
        # skip_cache: straight into our folder, so a bad file never sits in W&B's cache for the next try
        artifact.download(root=str(tmp), skip_cache=True)
        verify_bundle(tmp)

    try:
        publish_cache(project, cache_dir, fill)
    except KnowledgeError as exc:
        raise KnowledgeError(f"the W&B artifact {path} is corrupt: {exc}; nothing was cached (log it again: "
                             f"`metallmix-wandb explain --project {project}` where its runs are synced)") \
            from exc
    except Exception as exc:  # noqa: BLE001 - HTTP, OS and SDK errors while downloading
        raise KnowledgeError(f"downloading the W&B artifact {path} failed ({one_line(exc)}); nothing was "
                             f"cached ({hint})") from exc
