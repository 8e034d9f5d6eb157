"""Datasets as W&B artifacts (type ``dataset``): log one with its meta-features in the metadata, read
those meta-features without downloading, and download one inside a run through `run.use_artifact`
(so W&B records the lineage run <- dataset).

The adapter half of datasets/reference.py. Tested against the loopback W&B backend (the real SDK and
wandb-core) in tests/datasets/test_artifacts.py and tests/training/test_entrypoint_artifact.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from metallmix_wandb.datasets.images import DatasetError
from metallmix_wandb.datasets.meta_features import (
    MetaFeatureError,
    MetaFeatures,
    meta_features_from_json,
    normalise_modality,
)
from metallmix_wandb.datasets.reference import (
    ARTIFACT_SCHEME,
    ARTIFACT_TYPE,
    ArtifactRef,
    check_artifact_name,
    parse_artifact_ref,
)

LOG_JOB_TYPE = "dataset-log"
META_KEY = "meta_features"


class DatasetArtifactError(DatasetError):
    """A dataset artifact that cannot be logged, found, read or downloaded, in one line."""


class LoggedDataset(BaseModel):
    """What `dataset log` did: the reference to pass on (pinned to the version when online)."""

    reference: str
    offline: bool
    run_dir: str
    metadata: dict[str, Any]


class ResolvedDataset(BaseModel):
    """A dataset artifact found on the server: its pinned reference and its meta-features."""

    reference: str
    meta_features: dict[str, float | str]


def dataset_metadata(path: Path, modality: str | None = None) -> dict[str, Any]:
    """Load the dataset once (a bad one fails before W&B starts) and describe it for the metadata:
    `root` is the path inside the artifact to load, so a downloaded copy keeps the dataset's name."""
    from metallmix_wandb.datasets.images import dataset_meta_features, load_image_dataset

    ds = load_image_dataset(path)
    return {META_KEY: dict(dataset_meta_features(ds, modality)), "root": path.name, "dataset_name": ds.name,
            "format": "npz" if path.is_file() else "class-folders", "n_images": len(ds),
            "n_classes": ds.n_classes, "class_names": list(ds.class_names)}


def log_dataset(path: Path, name: str, project: str, entity: str | None = None, *, modality: str | None = None,
                description: str | None = None, offline: bool = False) -> LoggedDataset:
    """Log `path` (.npz or class-folder tree) as the artifact `name` from a `dataset-log` run. Offline,
    the run folder holds the artifact until `wandb sync` uploads it."""
    check_artifact_name(name)
    path = Path(path)
    metadata = dataset_metadata(path, modality)
    import wandb

    try:
        run = wandb.init(project=project, entity=entity, job_type=LOG_JOB_TYPE, mode="offline" if offline else None,
                         config={"dataset_artifact": name, "dataset_name": metadata["dataset_name"]})
    except Exception as exc:  # noqa: BLE001 - no login, no server: wandb.init raises many types
        raise DatasetArtifactError(f"wandb.init failed: {exc}") from exc
    is_offline = bool(run.offline)
    try:
        art = wandb.Artifact(name, type=ARTIFACT_TYPE, description=description, metadata=metadata)
        if path.is_dir():
            art.add_dir(str(path), name=path.name)
        else:
            art.add_file(str(path), name=path.name)
        logged = run.log_artifact(art, aliases=["latest"])
        if not is_offline:
            logged.wait()
        alias = "latest" if is_offline else logged.version
        ref = ArtifactRef(entity=run.entity or entity or "ENTITY", project=run.project or project, name=name,
                          alias=alias)
    except Exception as exc:  # noqa: BLE001 - an upload or commit that failed
        run.finish(exit_code=1)
        raise DatasetArtifactError(f"could not log dataset artifact {name!r}: {exc}") from exc
    run_dir = str(Path(run.dir).parent)
    run.finish()
    return LoggedDataset(reference=ref.uri, offline=is_offline, run_dir=run_dir, metadata=metadata)


def meta_features_of(metadata: dict[str, Any], where: str) -> MetaFeatures:
    raw = metadata.get(META_KEY)
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise DatasetArtifactError(f"{where} has no meta-features in its metadata: log it with "
                                   "`metallmix-wandb dataset log PATH --name NAME`")
    try:
        return meta_features_from_json(raw)
    except MetaFeatureError as exc:
        raise DatasetArtifactError(f"{where}: bad meta-features in its metadata: {exc}") from exc


def resolve_dataset(reference: str, entity: str | None, project: str | None,
                    modality: str | None = None) -> ResolvedDataset:
    """The artifact's meta-features from its metadata (one API request, no download), and the reference
    pinned to the version read, so a queued run trains on the data the meta-features describe."""
    import wandb

    ref = parse_artifact_ref(reference, entity, project) if entity else None
    try:
        api = wandb.Api(timeout=30)
        if ref is None:
            ref = parse_artifact_ref(reference, api.default_entity, project)
        art = api.artifact(ref.path, type=ARTIFACT_TYPE)
        metadata = dict(art.metadata or {})
        version = art.version
    except Exception as exc:  # noqa: BLE001 - CommError, auth, network, wrong type: one line
        raise DatasetArtifactError(f"cannot read dataset artifact {(ref.uri if ref else reference)}: "
                                   f"{_first_line(exc)}") from exc
    meta = meta_features_of(metadata, ref.uri)
    if modality:
        meta["modality"] = normalise_modality(modality)
    pinned = ref.model_copy(update={"alias": version})
    return ResolvedDataset(reference=pinned.uri, meta_features=meta)


def config_artifact(value: Any) -> Any | None:
    """The `wandb.Artifact` the SDK put in the config for a `wandb-artifact://` value (online, W&B
    resolves such config strings itself and calls `use_artifact`), else None."""
    return value if hasattr(value, "qualified_name") and hasattr(value, "download") else None


def artifact_config_keys(art: Any) -> dict[str, str]:
    """Config keys that name the dataset artifact as text. W&B stores a config value that is an artifact
    as {"_type": "artifactVersion", ...} without its project (and turns any `wandb-artifact://` string
    back into an artifact), so the qualified name goes beside it, scheme-less."""
    return {"dataset_artifact": art.qualified_name}


def config_dataset_text(value: Any) -> Any:
    """A config's `dataset` as text: a resolved artifact back to its `wandb-artifact://` reference."""
    art = config_artifact(value)
    return f"{ARTIFACT_SCHEME}{art.qualified_name}" if art is not None else value


def use_dataset(run: Any, reference: str, root: Path,
                resolved: Any | None = None) -> tuple[Path, dict[str, Any], Any]:
    """Download the dataset artifact into `root` inside `run`, used through `run.use_artifact` so W&B
    records the lineage (`resolved`: the artifact the SDK already used for a config value). Returns the
    local path to load, the artifact's metadata and the artifact. Needs the run online: W&B cannot use an artifact in
    an offline run."""
    ref = parse_artifact_ref(reference)
    if run.offline:  # the SDK would raise a bare TypeError
        raise DatasetArtifactError(f"{ref.uri} needs W&B online (the run is offline): pass a local path "
                                   "as --dataset, or run online")
    try:
        art = resolved if resolved is not None else run.use_artifact(ref.path, type=ARTIFACT_TYPE)
        if art.type != ARTIFACT_TYPE:
            raise DatasetArtifactError(f"it is of type {art.type!r}, not {ARTIFACT_TYPE!r}")
        folder = Path(art.download(root=str(root / ref.name / art.version)))
        metadata = dict(art.metadata or {})
    except Exception as exc:  # noqa: BLE001 - not found, no access, network: one line
        raise DatasetArtifactError(f"cannot use dataset artifact {ref.uri}: {_first_line(exc)}") from exc
    local = folder / str(metadata.get("root") or "")
    if not local.exists():
        raise DatasetArtifactError(f"{ref.uri}: {metadata.get('root')!r} is not in the downloaded artifact")
    return local, metadata, art


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
