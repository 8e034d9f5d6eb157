"""Run a W&B sweep YAML with no server: W&B's own engine picks, each trial is an offline W&B run.

The search itself is the ``sweeps`` package that W&B's server runs (``sweeps.next_run`` for grid /
random / bayes, ``sweeps.stop_runs`` for hyperband early termination); nothing here searches.

Each trial is started the way ``wandb agent`` starts it: the YAML's ``command`` with ``${args}``
expanded to ``--key=value`` and the parameters written to ``sweep-<id>/config-<run>.yaml`` under the
W&B folder and named by ``WANDB_SWEEP_PARAM_PATH``, which ``wandb.init`` reads. The only
differences: the interpreter is this process's Python, the run is offline, and the trial keeps a
JSON result file (``METALLMIX_RESULT_PATH``) that this driver polls for the history (hyperband) and
reads back for the summary (bayes). Trials run one after another and share the group ``sweep-<id>``
(no W&B sweep id is set: the server would not know it when the runs are synced later).

Online, ``wandb sweep`` registers the YAML and ``wandb agent`` runs it (see ``online_sweep``).
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

DEFAULT_COMMAND = ["${env}", "${interpreter}", "-m", "metallmix_wandb.train", "${args}"]
_INTERPRETERS = {"${interpreter}", "python", "python3"}
_ALPHABET = string.ascii_lowercase + string.digits


class SweepError(ValueError):
    """A sweep that cannot run (bad YAML, bad --set), with the reason in words."""


class Trial(BaseModel):
    index: int
    run_id: str
    config: dict[str, Any]
    state: str = "pending"  # pending | running | finished | failed | crashed
    exit_code: int | None = None
    run_dir: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    log_path: str | None = None


class SweepReport(BaseModel):
    sweep_id: str
    group: str
    method: str
    project: str | None
    metric: str | None
    wandb_dir: str
    trials: list[Trial]

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.state != "finished"]


# --------------------------------------------------------------------------- the YAML


def _sweeps() -> Any:
    """The sweeps package, without the pydantic-v1 style warnings its import prints (0.3.0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sweeps
    return sweeps


def new_id(n: int = 8) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``--set key=value`` items -> {key: typed value} (the same typing as the trainer's args)."""
    from metallmix_wandb.training.entrypoint import coerce

    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SweepError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = coerce(value)
    return out


def load_sweep_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The YAML with each override fixed as ``{value: v}``, checked with W&B's sweep schema.

    A ``dataset`` value that names an existing relative path becomes absolute, so every run of the
    same data logs the same ``dataset`` wherever the sweep was started.
    """
    SweepConfig = _sweeps().SweepConfig
    p = Path(path)
    from metallmix_wandb.space.parse import SearchSpaceError
    from metallmix_wandb.space.yaml_io import read_yaml_file

    try:
        cfg = read_yaml_file(p, yaml12=False)  # YAML 1.1, as `wandb sweep` reads it; bounded
    except SearchSpaceError as exc:
        raise SweepError(f"cannot read sweep YAML {exc}") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("parameters"), dict):
        raise SweepError(f"{p}: a sweep YAML needs a `parameters` mapping")
    for key, value in (overrides or {}).items():
        cfg["parameters"][key] = {"value": value}
    ds = cfg["parameters"].get("dataset")
    if isinstance(ds, dict) and isinstance(ds.get("value"), str) and Path(ds["value"]).exists():
        ds["value"] = str(Path(ds["value"]).resolve())
    try:
        SweepConfig(cfg)
    except Exception as exc:  # jsonschema.ValidationError, ValueError
        raise SweepError(f"{p}: not a valid W&B sweep config: {exc}") from exc
    return cfg


def plain(value: Any) -> Any:
    """numpy scalars (sweeps' bayes) -> Python values, recursively."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def trial_command(cfg: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The YAML's ``command`` expanded as ``wandb agent`` expands it, with this Python as interpreter."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    command = cfg.get("command") or (
        ["${env}", "${interpreter}", "${program}", "${args}"] if cfg.get("program") else DEFAULT_COMMAND)
    variables = create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    variables.update({"env": [], "interpreter": [sys.executable], "program": [str(cfg.get("program", ""))]})
    out: list[str] = []
    for part in create_sweep_command(list(command)):
        part = str(part)
        if part.startswith("${") and part.endswith("}"):
            out += [str(v) for v in variables.get(part[2:-1]) or []]
        else:
            out.append(sys.executable if part in _INTERPRETERS else part)
    return out


def wandb_runs_dir() -> Path:
    """Where offline run folders land: $WANDB_DIR/wandb, else ./wandb (as wandb.init decides)."""
    base = os.environ.get("WANDB_DIR")
    return (Path(base) if base else Path.cwd()) / "wandb"


# --------------------------------------------------------------------------- one trial


def _read_result(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _should_stop(cfg: dict[str, Any], done: list[Any], trial: Trial) -> bool:
    """Ask sweeps' hyperband whether the running trial falls below its band's threshold."""
    sweeps = _sweeps()
    running = sweeps.SweepRun(name=trial.run_id, state=sweeps.RunState.running, history=trial.history,
                              config={k: {"value": v} for k, v in trial.config.items()})
    stop = sweeps.stop_runs(cfg, [*done, running])
    return any(r.name == trial.run_id for r in stop)


def _run_trial(cfg: dict[str, Any], trial: Trial, env: dict[str, str], folder: Path, done: list[Any],
               on_update: Callable[[Trial], None], poll_s: float) -> None:
    params_path = folder / f"config-{trial.run_id}.yaml"
    params_path.write_text(yaml.safe_dump({k: {"value": v} for k, v in trial.config.items()}))
    result_path = folder / f"result-{trial.run_id}.json"
    log_path = folder / f"{trial.run_id}.log"
    env = {**env, "WANDB_SWEEP_PARAM_PATH": str(params_path), "WANDB_RUN_ID": trial.run_id,
           "METALLMIX_RESULT_PATH": str(result_path)}
    hyperband = "early_terminate" in cfg
    trial.state, trial.log_path = "running", str(log_path)
    on_update(trial)
    start = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(trial_command(cfg, trial.config), env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                time.sleep(poll_s)
                history = _read_result(result_path).get("history") or []
                if len(history) != len(trial.history):
                    trial.history = history
                    on_update(trial)
                    if hyperband and not trial.stopped_early and _should_stop(cfg, done, trial):
                        trial.stopped_early = True
                        proc.send_signal(signal.SIGTERM)  # the trainer ends after this epoch
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    result = _read_result(result_path)
    trial.seconds = time.monotonic() - start
    trial.exit_code = proc.returncode
    trial.history = result.get("history") or trial.history
    trial.summary = result.get("summary") or {}
    trial.run_dir = result.get("run_dir")
    trial.error = result.get("error")
    if proc.returncode == 0 and result.get("status") == "finished":
        trial.state = "finished"
    else:  # "failed": the trainer said why; "crashed": it died (killed, segfault, a bug before init)
        trial.state = "failed" if result.get("status") == "failed" else "crashed"
        trial.error = trial.error or f"exit code {proc.returncode}: {_tail(log_path)}"
    on_update(trial)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _to_sweep_run(trial: Trial) -> Any:
    sweeps = _sweeps()
    state = trial.state if trial.state in ("finished", "failed", "crashed") else "failed"
    summary = {k: v for k, v in trial.summary.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    config = {k: {"value": v} for k, v in trial.config.items()}
    return sweeps.SweepRun(name=trial.run_id, state=state, config=config,
                           summary_metrics=summary, history=trial.history, exitcode=trial.exit_code,
                           stopped=trial.stopped_early)


# --------------------------------------------------------------------------- the sweep


def trial_budget(cfg: dict[str, Any], count: int | None) -> int:
    """``count`` capped by the YAML's ``run_cap`` (either alone if only one is given)."""
    given = [c for c in (count, cfg.get("run_cap")) if c]
    if not given:
        raise SweepError("pass --count N (the YAML has no run_cap)")
    return min(given)


def run_offline_sweep(
    path: str | Path,
    *,
    count: int | None,
    project: str | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
    on_update: Callable[[Trial], None] = lambda t: None,
    poll_s: float = 0.5,
) -> SweepReport:
    """Run up to ``count`` trials (capped by the YAML's ``run_cap``; grids stop when exhausted)."""
    sweeps = _sweeps()
    cfg = load_sweep_config(path, overrides)
    total = trial_budget(cfg, count)
    if seed is not None:  # sweeps samples with `random` (random search) and `np.random` (bayes)
        import numpy as np

        random.seed(seed)
        np.random.seed(seed)
    sweep_id = new_id()
    group = f"sweep-{sweep_id}"
    runs_dir = wandb_runs_dir()
    folder = runs_dir / group
    folder.mkdir(parents=True, exist_ok=True)
    project = project or cfg.get("project") or os.environ.get("WANDB_PROJECT")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_RUN_GROUP": group, "PYTHONUNBUFFERED": "1"}
    env["WANDB_TAGS"] = ",".join(t for t in (os.environ.get("WANDB_TAGS"), group) if t)
    env.pop("WANDB_SWEEP_ID", None)
    if project:
        env["WANDB_PROJECT"] = project
    trials: list[Trial] = []
    done: list[Any] = []
    for i in range(total):
        suggestion = sweeps.next_run(cfg, done, validate=True)
        if suggestion is None:  # a grid with every point tried
            break
        params = plain({k: v["value"] for k, v in suggestion.config.items()})
        trial = Trial(index=i, run_id=new_id(), config=params)
        trials.append(trial)
        _run_trial(cfg, trial, env, folder, done, on_update, poll_s)
        done.append(_to_sweep_run(trial))
    return SweepReport(sweep_id=sweep_id, group=group, method=cfg["method"], project=project,
                       metric=(cfg.get("metric") or {}).get("name"), wandb_dir=str(runs_dir), trials=trials)


# --------------------------------------------------------------------------- online


def online_commands(path: str | Path, *, project: str | None, entity: str | None,
                    count: int | None) -> tuple[list[str], list[str]]:
    """``wandb sweep`` for the YAML, and ``wandb agent`` (its last item, SWEEP, is the sweep path)."""
    wandb_cli = [sys.executable, "-m", "wandb"]
    opts = [*(["--project", project] if project else []), *(["--entity", entity] if entity else [])]
    agent = [*wandb_cli, "agent", *(["--count", str(count)] if count else []), "SWEEP"]
    return [*wandb_cli, "sweep", *opts, str(path)], agent


def online_sweep(path: str | Path, *, project: str | None = None, entity: str | None = None,
                 count: int | None = None, overrides: dict[str, Any] | None = None,
                 run_agent: bool = False, echo: Callable[[str], None] = print) -> int:
    """Register the sweep with W&B; print the agent command, or run the agent here."""
    cfg = load_sweep_config(path, overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fp:
        yaml.safe_dump(cfg, fp, sort_keys=False)
    sweep_cmd, agent_cmd = online_commands(fp.name if overrides else path, project=project, entity=entity,
                                           count=count)
    echo("+ " + " ".join(sweep_cmd))
    proc = subprocess.run(sweep_cmd, capture_output=True, text=True)
    os.unlink(fp.name)
    output = proc.stdout + proc.stderr
    match = re.search(r"wandb agent (\S+)", output)
    if proc.returncode != 0 or not match:
        raise SweepError(f"`wandb sweep` failed (exit {proc.returncode}):\n{output.strip()[-2000:]}")
    agent_cmd[-1] = match.group(1)
    echo("+ " + " ".join(agent_cmd) if run_agent else "start agents with:\n  " + " ".join(agent_cmd[2:]))
    return subprocess.call(agent_cmd) if run_agent else 0
