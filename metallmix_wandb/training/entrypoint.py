"""The training entrypoint: one W&B run = one transfer-learning experiment of the meta-dataset.

    python -m metallmix_wandb.train --dataset=data/breastmnist_28.npz --base_model=resnet18 --epochs=2
    metallmix-wandb train --dataset=... (the same)

Used unchanged as a W&B sweep ``command`` (``${env} python -m metallmix_wandb.train ${args}``) and as
a W&B Launch job. The config is built in W&B's own order: the defaults below, then the sweep's
parameters (``wandb agent`` writes them to ``WANDB_SWEEP_PARAM_PATH``), then Launch overrides
(``WANDB_LAUNCH`` + ``WANDB_CONFIG`` or ``WANDB_LAUNCH_CONFIG_PATH``), then ``--key=value`` arguments
(what the agent's ``${args}`` passes). W&B locks the keys a sweep or Launch set: an argument for such
a key is ignored (under an agent both carry the same value), so the logged config is the one used.

What the run logs is the contract of DESIGN.md §4 (see ``_log_run``). A failure (bad dataset, bad
config, NaN loss, out of memory) prints one clear line on stderr, ends the W&B run with exit code 1
(recorded in the run's exit record: state "failed") and exits the process with 1.

Environment: ``METALLMIX_DATASET`` is the default ``dataset``; ``METALLMIX_TORCH_THREADS`` (else
``OMP_NUM_THREADS``, else 1) sets torch's CPU threads; ``METALLMIX_RESULT_PATH`` names a JSON file the
run keeps up to date (status, history, summary, run folder) for a local sweep driver to read.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metallmix_wandb.datasets.reference import is_artifact_ref
from metallmix_wandb.knowledge.records import COMPLETE_KEY, TRAINER_KEY
from metallmix_wandb.numbers import short

FineTuning = Literal["feature_extraction", "partial_10", "partial_30", "full"]
EXIT_FAILED = 1
EXIT_USAGE = 2
TRAINER_MARK = 1
"""The version of the run contract this trainer logs under TRAINER_KEY (knowledge/records.py)."""


class TrainConfig(BaseModel):
    """Every key the trainer reads from ``wandb.config``, with the default used when none is given."""

    model_config = ConfigDict(extra="ignore")

    dataset: str | None = Field(None, description="MedMNIST .npz or class-per-folder dir, or "
                                "wandb-artifact://ENTITY/PROJECT/NAME:ALIAS (env METALLMIX_DATASET)")
    base_model: str = Field("mobilenet_v2", description="resnet50 efficientnet_b0 efficientnet_b5 "
                            "densenet121 inception_v3 xception nasnet_mobile resnet18 mobilenet_v2 "
                            "mobilenet_v3_small")
    fine_tuning: FineTuning = Field("full", description="feature_extraction | partial_10 | partial_30 | full")
    dense_units: int = Field(128, ge=1, description="units of the head's hidden Linear layer")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout before the output layer")
    optimizer: Literal["adam", "sgd", "rmsprop"] = Field("adam", description="adam | sgd | rmsprop")
    learning_rate: float = Field(1e-3, gt=0.0, description="optimizer learning rate")
    batch_size: int = Field(32, ge=2, description="training batch size")
    epochs: int = Field(5, ge=1, description="training epochs (per fold with cv_folds > 1)")
    image_size: int = Field(64, ge=8, le=1024,
                            description="input side in px (raised to the backbone's minimum)")
    cv_folds: int = Field(0, ge=0, description="0/1: train/val/test split; k > 1: k-fold CV on train+val")
    seed: int = Field(0, description="seed for splits, init and batch order")
    max_train_samples: int = Field(0, ge=0, description="stratified cap on training images (0 = all)")
    modality: str | None = Field(None, description="MRI CT X-ray US DMS OCT other (default: from the name)")

    @field_validator("fine_tuning", "optimizer", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return re.sub(r"[\s\-]+", "_", v.strip().lower()) if isinstance(v, str) else v

    @field_validator("max_train_samples", mode="before")
    @classmethod
    def _none_is_all(cls, v: Any) -> Any:
        return 0 if v is None else v

    @field_validator("base_model")
    @classmethod
    def _known_backbone(cls, v: str) -> str:
        from metallmix_wandb.training.backbones import resolve_backbone

        resolve_backbone(v)  # ModelError (a ValueError) names the choices
        return v


def defaults() -> dict[str, Any]:
    cfg = {name: f.default for name, f in TrainConfig.model_fields.items()}
    cfg["dataset"] = os.environ.get("METALLMIX_DATASET") or None
    return cfg


# --------------------------------------------------------------------------- command line


class UsageError(ValueError):
    pass


def coerce(text: str) -> Any:
    """A ``--key=value`` string as the value the agent meant (it writes Python's str() of the value)."""
    s = text.strip()
    low = s.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    try:
        return float(s)
    except ValueError:
        pass
    if s[:1] in "[{(":
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            try:
                return json.loads(s)
            except ValueError:
                pass
    return text


def parse_args(argv: list[str]) -> dict[str, Any]:
    """``--key=value``, ``--key value`` and bare ``--flag`` (True); dashes in keys become underscores."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise UsageError(f"unexpected argument {arg!r}: pass hyperparameters as --key=value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if eq:
            out[key] = coerce(value)
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out[key] = coerce(argv[i + 1])
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def help_text() -> str:
    lines = [__doc__.split("\n\n")[0], "", "Hyperparameters (--key=value; default in brackets):"]
    for name, f in TrainConfig.model_fields.items():
        lines.append(f"  --{name:<18} {f.description} [{defaults()[name]}]")
    return "\n".join(lines)


def torch_threads() -> int:
    for var in ("METALLMIX_TORCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


# --------------------------------------------------------------------------- result file


class ResultFile:
    """A JSON file rewritten atomically after every epoch and at the end (METALLMIX_RESULT_PATH)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.data: dict[str, Any] = {"status": "starting", "history": [], "summary": {}, "config": {}}

    def write(self, **fields: Any) -> None:
        self.data.update(fields)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, default=_jsonable))
        tmp.replace(self.path)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# --------------------------------------------------------------------------- the run


def _define_metrics(run: Any) -> None:
    run.define_metric("epoch")
    for pattern in ("train/*", "val/*"):
        run.define_metric(pattern, step_metric="epoch")
    run.define_metric("val/acc", summary="max")  # the summary holds {"max": best val/acc}


def _print_row(row: dict[str, float]) -> None:
    text = "  ".join(f"{k}={short(v)}" for k, v in row.items())
    print(text, flush=True)


def _log_run(run: Any, cfg: TrainConfig, result: ResultFile, stop: Any) -> None:
    """Load the data, log meta-features, train, log history and summary (DESIGN.md §4)."""
    from metallmix_wandb.datasets.images import dataset_meta_features, load_image_dataset
    from metallmix_wandb.datasets.meta_features import to_config_keys

    if not cfg.dataset:
        raise UsageError("no dataset: pass --dataset=PATH (a .npz or a class-per-folder directory, or "
                         "wandb-artifact://ENTITY/PROJECT/NAME:ALIAS) or set METALLMIX_DATASET")
    local, modality = _dataset_source(run, cfg)
    ds = load_image_dataset(local)  # before importing torch: a bad path fails in a second
    meta = dataset_meta_features(ds, modality)
    run.config.update({"dataset_name": ds.name, **to_config_keys(meta)}, allow_val_change=True)
    for note in ds.notes:
        print(f"note: {note}", file=sys.stderr)
    _define_metrics(run)

    import torch

    torch.set_num_threads(torch_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = _train(run, cfg, ds, result, stop, device)
    for note in out.notes:
        print(f"note: {note}", file=sys.stderr)
    summary = {**out.summary, "dataset_source": ds.source, "torch_threads": torch.get_num_threads(),
               "device": device}
    for key, value in summary.items():
        run.summary[key] = value
    run.summary[COMPLETE_KEY] = True  # last: a run without it was killed (sync skips it as incomplete)
    result.write(summary=summary)
    print(f"test/acc={summary['test/acc']:.4f}  test/f1={summary['test/f1']:.4f}  "
          f"train_time_s={summary['train_time_s']:.1f}  pretrained={summary['pretrained']}", flush=True)


def _dataset_source(run: Any, cfg: TrainConfig) -> tuple[str, str | None]:
    """The local path to load, and the modality. A `wandb-artifact://` reference is downloaded into the
    run's folder through `run.use_artifact` (lineage; online, W&B itself resolves such a config value to
    the artifact and uses it), and the modality logged with it is kept unless one is given."""
    assert cfg.dataset is not None
    if not is_artifact_ref(cfg.dataset):
        return cfg.dataset, cfg.modality
    from metallmix_wandb.datasets.artifacts import artifact_config_keys, config_artifact, use_dataset

    resolved = config_artifact(run.config.get("dataset"))
    local, metadata, art = use_dataset(run, cfg.dataset, Path(run.dir).parent / "datasets", resolved)
    run.config.update(artifact_config_keys(art), allow_val_change=True)
    logged = (metadata.get("meta_features") or {}).get("modality")
    return str(local), cfg.modality or (str(logged) if logged else None)


def _train(run: Any, cfg: TrainConfig, ds: Any, result: ResultFile, stop: Any, device: str) -> Any:
    """Hold-out: log each epoch as it ends. k-fold: log the fold-mean curve once the folds are done."""
    from metallmix_wandb.training.experiment import Hyperparams, run_cv, run_holdout

    fields = {k: getattr(cfg, k) for k in Hyperparams.__dataclass_fields__}
    hp = Hyperparams(**{**fields, "max_train_samples": cfg.max_train_samples or None})
    history: list[dict[str, float]] = []

    def on_model(built: Any) -> None:
        run.config.update({"pretrained": built.pretrained}, allow_val_change=True)

    def on_epoch(row: Any) -> None:
        history.append(row.as_log())
        run.log(row.as_log())
        result.write(status="running", history=history)
        _print_row(row.as_log())

    def on_fold(f: int, rows: list[Any]) -> None:
        print(f"fold {f + 1}/{cfg.cv_folds}:", end="  ")
        _print_row(rows[-1].as_log())

    data = (ds.images, ds.labels, ds.split, ds.n_classes, hp)
    if cfg.cv_folds <= 1:
        return run_holdout(*data, on_model=on_model, on_epoch=on_epoch, stop=stop, device=device)
    out = run_cv(*data, on_model=on_model, on_fold=on_fold, stop=stop, device=device)
    for row in out.history:
        run.log(row)
    result.write(history=out.history)
    return out


def _failure_message(exc: BaseException) -> str | None:
    """One line for the errors a user can fix; None for a bug (print the traceback)."""
    from metallmix_wandb.training.backbones import ModelError
    from metallmix_wandb.datasets.images import DatasetError
    from metallmix_wandb.training.splits import SplitError

    if isinstance(exc, DatasetError):
        return f"dataset error: {exc}"
    if isinstance(exc, ValidationError):
        errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        return f"bad config: {errors}"
    if isinstance(exc, (UsageError, ModelError, SplitError)):
        return str(exc)
    oom: tuple[type[BaseException], ...] = (MemoryError,)
    if "torch" in sys.modules:  # never import torch just to name an error
        import torch

        from metallmix_wandb.training.loop import TrainingError

        if isinstance(exc, TrainingError):
            return str(exc)
        oom += (getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),)
    if isinstance(exc, oom) or (isinstance(exc, RuntimeError) and re.search(
            r"out of memory|can't allocate memory", str(exc), re.I)):
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        return f"out of memory ({first}); try a smaller batch_size or image_size"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a in ("-h", "--help") for a in argv):
        print(help_text())
        return 0
    try:
        overrides = parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = sorted(set(overrides) - set(TrainConfig.model_fields))
    if unknown:
        print(f"warning: unknown hyperparameter(s) {', '.join(unknown)}: logged but not used",
              file=sys.stderr)

    dataset = overrides.get("dataset", os.environ.get("METALLMIX_DATASET"))
    if is_artifact_ref(dataset) and os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun", "disabled"):
        print(f"error: {dataset} needs W&B online (WANDB_MODE is offline): the artifact is downloaded from the "
              "server; pass a local path as --dataset", file=sys.stderr)
        return EXIT_USAGE

    from metallmix_wandb.datasets.artifacts import config_dataset_text
    from metallmix_wandb.training.stop_signal import StopFlag

    stop = StopFlag().on_sigterm()
    result = ResultFile(os.environ.get("METALLMIX_RESULT_PATH"))

    import wandb

    from metallmix_wandb.training.launch_spec import launch_init_labels

    try:  # a launched run's group, tags, notes and name come in its run config (launch_spec.RUN_LABELS_KEY)
        run = wandb.init(config={**defaults(), TRAINER_KEY: TRAINER_MARK},
                         job_type=os.environ.get("WANDB_JOB_TYPE") or "train", **launch_init_labels())
    except Exception as exc:  # no login online, an unwritable WANDB_DIR, ...
        print(f"error: wandb.init failed: {exc}", file=sys.stderr)
        result.write(status="failed", error=f"wandb.init failed: {exc}", exit_code=EXIT_FAILED)
        return EXIT_FAILED
    run_dir = str(Path(run.dir).parent)
    try:
        if overrides:
            run.config.update(overrides, allow_val_change=True)
        result.write(status="running", run_id=run.id, run_dir=run_dir, config=dict(run.config))
        cfg = TrainConfig.model_validate({**run.config, "dataset": config_dataset_text(run.config.get("dataset"))})
        _log_run(run, cfg, result, stop)
    except Exception as exc:
        message = _failure_message(exc)
        if message is None:
            import traceback

            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
        print(f"error: {message}", file=sys.stderr, flush=True)
        result.write(status="failed", error=message, exit_code=EXIT_FAILED, config=dict(run.config))
        run.finish(exit_code=EXIT_FAILED)
        return EXIT_FAILED
    result.write(config=dict(run.config))
    run.finish(exit_code=0)
    result.write(status="finished", exit_code=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
