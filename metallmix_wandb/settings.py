"""Settings from env (METALLMIX_*, plus W&B's own WANDB_*), overridden by CLI flags.
Tested through every command's tests (tests/cli/) and tests/llm/test_factory.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_cache_dir() -> Path:
    return Path(user_cache_dir("metallmix-wandb"))


def _alias(name: str, *extra: str) -> AliasChoices:
    return AliasChoices(f"METALLMIX_{name.upper()}", *extra)


class Settings(BaseSettings):
    """Everything a command needs to find runs, the knowledge base and the LLM.

    Secrets are SecretStr: their repr is masked, so printing settings never leaks them.
    """

    model_config = SettingsConfigDict(env_prefix="METALLMIX_", extra="ignore", populate_by_name=True)

    entity: str | None = Field(None, validation_alias=_alias("entity", "WANDB_ENTITY"))
    project: str | None = Field(None, validation_alias=_alias("project", "WANDB_PROJECT"))
    wandb_mode: str | None = Field(None, validation_alias=_alias("wandb_mode", "WANDB_MODE"))
    cache_dir: Path = Field(default_factory=default_cache_dir, validation_alias=_alias("cache_dir"))
    qdrant_path: Path | None = Field(None, validation_alias=_alias("qdrant_path"))
    qdrant_url: str | None = Field(None, validation_alias=_alias("qdrant_url"))
    qdrant_api_key: SecretStr | None = Field(None, validation_alias=_alias("qdrant_api_key", "QDRANT_API_KEY"))
    qdrant_wait_s: float = Field(60.0, gt=0, validation_alias=_alias("qdrant_wait_s"),
                                 description="how long a command waits for an embedded Qdrant folder another "
                                 "process is reading or writing (knowledge/qdrant_access.py WAIT_S)")
    metric: str = Field("test/acc", validation_alias=_alias("metric"))
    time_metric: str = Field("train_time_s", validation_alias=_alias("time_metric"))
    top_k: int = Field(8, ge=1, validation_alias=_alias("top_k"))
    n_jobs: int = Field(1, ge=1, validation_alias=_alias("n_jobs"),
                        description="XGBoost threads; 1 is fastest on a small shared machine")
    llm_base_url: str | None = Field(None, validation_alias=_alias("llm_base_url"))
    llm_model: str | None = Field(None, validation_alias=_alias("llm_model"))
    llm_api_key: SecretStr | None = Field(None, validation_alias=_alias("llm_api_key", "OPENAI_API_KEY"))
    llm_timeout_s: float | None = Field(None, gt=0, validation_alias=_alias("llm_timeout"),
                                        description="deadline of one LLM call, connect + whole reply + retries "
                                        "(default: 300 s for an endpoint, 600 s for the embedded model)")
    judge_model: str | None = Field(None, validation_alias=_alias("judge_model"))
    task: str | None = Field(None, validation_alias=_alias("task"),
                             description="what the project trains, named in the prompts (else the sweep's description)")

    @property
    def resolved_qdrant_path(self) -> Path:
        return self.qdrant_path or (self.cache_dir / "qdrant")

    @property
    def secrets(self) -> tuple[SecretStr | None, ...]:
        """Every configured secret: masked (secrets.redact) in any text from outside that is stored or shown."""
        return (self.llm_api_key, self.qdrant_api_key)

    @property
    def offline(self) -> bool:
        return (self.wandb_mode or "").lower() in {"offline", "disabled", "dryrun"}


def load_settings(**overrides: Any) -> Settings:
    """Env first, then every flag the user actually gave (None means 'not given')."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
