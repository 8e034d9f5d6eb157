"""Dataset artifact references: `wandb-artifact://ENTITY/PROJECT/NAME:ALIAS`, parsed and formatted."""

from __future__ import annotations

import pytest

from metallmix_wandb.datasets.reference import (
    ArtifactRef,
    DatasetRefError,
    check_artifact_name,
    is_artifact_ref,
    parse_artifact_ref,
)


def test_the_full_reference_round_trips() -> None:
    ref = parse_artifact_ref("wandb-artifact://team/medmnist-meta/breast-28:v3")
    assert ref == ArtifactRef(entity="team", project="medmnist-meta", name="breast-28", alias="v3")
    assert ref.path == "team/medmnist-meta/breast-28:v3"
    assert ref.uri == "wandb-artifact://team/medmnist-meta/breast-28:v3"


def test_short_forms_take_the_defaults_and_latest() -> None:
    assert parse_artifact_ref("breast", "team", "proj").uri == "wandb-artifact://team/proj/breast:latest"
    assert parse_artifact_ref("other/breast:v1", "team", "proj").path == "team/other/breast:v1"
    assert parse_artifact_ref("e/p/n").alias == "latest"


@pytest.mark.parametrize("text, match", [
    ("wandb-artifact://a/b/c/d:v1", "expected wandb-artifact://ENTITY/PROJECT/NAME:ALIAS"),
    ("wandb-artifact://team/proj/bad name", "expected"),
    ("breast:v0", "names no project"),
    ("proj/breast", "names no entity"),
])
def test_bad_references_say_the_expected_form(text: str, match: str) -> None:
    with pytest.raises(DatasetRefError, match=match):
        parse_artifact_ref(text)


def test_what_counts_as_a_reference_and_a_name() -> None:
    assert is_artifact_ref("wandb-artifact://e/p/n:v0")
    assert not is_artifact_ref("/data/breast.npz") and not is_artifact_ref(None)
    assert check_artifact_name("breast-28_v.1") == "breast-28_v.1"
    with pytest.raises(DatasetRefError, match="bad artifact name"):
        check_artifact_name("../x")
