"""Dataset references (DESIGN.md §4): a local path, or a W&B artifact reference
``wandb-artifact://ENTITY/PROJECT/NAME:ALIAS`` (the W&B convention) that any machine can fetch.

Pure: parsing and formatting only; fetching lives in datasets/artifacts.py. Tested in
tests/datasets/test_reference.py.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

ARTIFACT_SCHEME = "wandb-artifact://"
ARTIFACT_TYPE = "dataset"
_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_NAME = re.compile(rf"^{_PART}$")
_REF = re.compile(rf"^(?:(?:(?P<entity>{_PART})/)?(?P<project>{_PART})/)?(?P<name>{_PART})(?::(?P<alias>{_PART}))?$")
FORM = f"{ARTIFACT_SCHEME}ENTITY/PROJECT/NAME:ALIAS"


class DatasetRefError(ValueError):
    """A reference that is not of the form wandb-artifact://ENTITY/PROJECT/NAME:ALIAS."""


class ArtifactRef(BaseModel):
    """One dataset artifact version (or alias) in one W&B project."""

    model_config = ConfigDict(frozen=True)

    entity: str
    project: str
    name: str
    alias: str = "latest"

    @property
    def path(self) -> str:
        """What `wandb.Api().artifact` and `run.use_artifact` take."""
        return f"{self.entity}/{self.project}/{self.name}:{self.alias}"

    @property
    def uri(self) -> str:
        return ARTIFACT_SCHEME + self.path


def is_artifact_ref(dataset: object) -> bool:
    return isinstance(dataset, str) and dataset.strip().startswith(ARTIFACT_SCHEME)


def check_artifact_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise DatasetRefError(f"bad artifact name {name!r}: use letters, digits, '-', '_' and '.'")
    return name


def parse_artifact_ref(text: str, entity: str | None = None, project: str | None = None) -> ArtifactRef:
    """`wandb-artifact://E/P/N:A`; the scheme, the entity and project (when defaults are given) and the
    alias (`latest`) may be left out. A queued run needs the full reference: the command resolves it."""
    body = text.strip()
    if body.startswith(ARTIFACT_SCHEME):
        body = body[len(ARTIFACT_SCHEME):]
    m = _REF.match(body)
    if m is None:
        raise DatasetRefError(f"bad dataset artifact reference {text!r}: expected {FORM}")
    e, p = m["entity"] or entity, m["project"] or project
    if not e or not p:
        raise DatasetRefError(f"dataset artifact reference {text!r} names no "
                              f"{'entity' if p else 'project'}: expected {FORM}")
    return ArtifactRef(entity=e, project=p, name=m["name"], alias=m["alias"] or "latest")
