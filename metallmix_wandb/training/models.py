"""Build a torchvision backbone with the MetaLLMiX head; ImageNet weights only when already on disk.

The names and the paper-to-torchvision mapping live in ``backbones.py``.

Head (as the paper): the backbone's global average pooling -> Linear(dense_units) -> BatchNorm1d
-> ReLU -> Dropout -> Linear(classes). The backbone's own classifier (and its dropout / hidden
layer) is removed; ConvNeXt keeps the LayerNorm that sits between its pooling and classifier.

Fine-tuning: every backbone parameter is frozen, then the last 10 / 30 *parameterised layers* are
unfrozen (``partial_10`` / ``partial_30``) or all of them (``full``). A parameterised layer is a
module that owns parameters itself (a conv, a norm, a linear), counted from the end of the
backbone in definition order; the head always trains. Frozen BatchNorm layers stay in eval mode
while training (as Keras does), so pretrained running statistics are not overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.hub
from torch import nn
from torchvision.models import WeightsEnum, get_model, get_model_weights

from metallmix_wandb.training.backbones import (  # noqa: F401  (re-exported)
    BACKBONES,
    CPU_BACKBONES,
    FINE_TUNING,
    PAPER_BACKBONES,
    BackboneSpec,
    ModelError,
    input_size,
    resolve_backbone,
)

_UNFROZEN_LAYERS = {"feature_extraction": 0, "partial_10": 10, "partial_30": 30}


# --------------------------------------------------------------------------- local ImageNet weights


def checkpoints_dir() -> Path:
    """Where torchvision looks for weights: $TORCH_HOME/hub/checkpoints (read at call time)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def local_weights(spec: BackboneSpec) -> WeightsEnum | None:
    """The torchvision weights whose file already sits in the checkpoints folder, else None.

    The default weights are tried first, then the others (the MobileNetV2 file that installs offline
    is IMAGENET1K_V1, while torchvision's default is V2). Nothing is downloaded: this only looks.
    """
    enum = get_model_weights(spec.torchvision)
    folder = checkpoints_dir()
    candidates = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
    for weights in candidates:
        if (folder / Path(weights.url).name).is_file():
            return weights
    return None


# --------------------------------------------------------------------------- the model


@dataclass
class BuiltModel:
    model: ClassifierNet
    spec: BackboneSpec
    pretrained: bool
    weights_name: str | None  # e.g. "IMAGENET1K_V1"
    input_size: int
    n_params: int
    n_trainable_params: int
    n_unfrozen_layers: int  # parameterised backbone layers that train


def _strip_classifier(model: nn.Module, spec: BackboneSpec) -> int:
    """Remove the ImageNet classifier in place; return the pooled feature width."""
    head = getattr(model, spec.head_attr)
    if isinstance(head, nn.Linear):
        setattr(model, spec.head_attr, nn.Identity())
        return int(head.in_features)
    if isinstance(head, nn.Sequential):
        layers = list(head)
        first = next((i for i, m in enumerate(layers) if isinstance(m, (nn.Linear, nn.Dropout))), None)
        linear = next((m for m in layers if isinstance(m, nn.Linear)), None)
        if first is not None and linear is not None:
            keep = layers[:first]  # ConvNeXt: LayerNorm2d + Flatten
            setattr(model, spec.head_attr, nn.Sequential(*keep) if keep else nn.Identity())
            return int(linear.in_features)
    raise ModelError(f"{spec.torchvision}: cannot find the classifier at .{spec.head_attr}")


def parameterised_layers(module: nn.Module) -> list[nn.Module]:
    """Modules that own parameters directly, in definition order (the unit of 'last N layers')."""
    return [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]


def apply_fine_tuning(backbone: nn.Module, fine_tuning: str) -> int:
    """Freeze the backbone, then unfreeze its last N parameterised layers; returns how many train."""
    if fine_tuning not in FINE_TUNING:
        raise ModelError(f"unknown fine_tuning {fine_tuning!r}; choose one of: {', '.join(FINE_TUNING)}")
    layers = parameterised_layers(backbone)
    n = len(layers) if fine_tuning == "full" else min(_UNFROZEN_LAYERS[fine_tuning], len(layers))
    for p in backbone.parameters():
        p.requires_grad_(False)
    for layer in layers[len(layers) - n:]:
        for p in layer.parameters(recurse=False):
            p.requires_grad_(True)
    return n


class ClassifierNet(nn.Module):
    """backbone (ending in global average pooling) -> Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear."""

    def __init__(self, backbone: nn.Module, features: int, dense_units: int, dropout: float,
                 num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(
            nn.Linear(features, dense_units),
            nn.BatchNorm1d(dense_units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(dense_units, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _construct(spec: BackboneSpec, weights: WeightsEnum | None) -> nn.Module:
    kwargs: dict = {}
    if spec.torchvision == "inception_v3":
        kwargs = {"aux_logits": False} if weights is not None else {"aux_logits": False, "init_weights": True}
    try:
        return get_model(spec.torchvision, weights=weights, **kwargs)
    except Exception as exc:  # a truncated or foreign file in the checkpoints folder
        path = checkpoints_dir() / Path(weights.url).name if weights is not None else None
        raise ModelError(
            f"cannot load the ImageNet weights for {spec.torchvision} from {path} "
            f"({type(exc).__name__}: {exc}); delete or replace that file"
        ) from exc


def build_model(base_model: str, num_classes: int, *, dense_units: int = 128, dropout: float = 0.3,
                fine_tuning: str = "full", image_size: int = 32,
                pretrained: bool | None = None) -> BuiltModel:
    """Backbone + head, frozen as asked. ``pretrained=None`` uses local ImageNet weights if present.

    ``pretrained=True`` insists on local weights (ModelError if absent); ``False`` never loads them.
    """
    if num_classes < 2:
        raise ModelError(f"need at least 2 classes, got {num_classes}")
    if dense_units < 1:
        raise ModelError(f"dense_units must be positive, got {dense_units}")
    if not 0.0 <= dropout < 1.0:
        raise ModelError(f"dropout must be in [0, 1), got {dropout}")
    spec = resolve_backbone(base_model)
    weights = None if pretrained is False else local_weights(spec)
    if pretrained is True and weights is None:
        raise ModelError(f"no local ImageNet weights for {spec.torchvision} in {checkpoints_dir()}")
    backbone = _construct(spec, weights)
    features = _strip_classifier(backbone, spec)
    n_unfrozen = apply_fine_tuning(backbone, fine_tuning)
    model = ClassifierNet(backbone, features, int(dense_units), float(dropout), int(num_classes))
    return BuiltModel(
        model=model,
        spec=spec,
        pretrained=weights is not None,
        weights_name=weights.name if weights is not None else None,
        input_size=input_size(spec, image_size),
        n_params=sum(p.numel() for p in model.parameters()),
        n_trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        n_unfrozen_layers=n_unfrozen,
    )


def set_train_mode(model: nn.Module) -> None:
    """model.train(), but BatchNorm layers whose parameters are all frozen stay in eval mode."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()
