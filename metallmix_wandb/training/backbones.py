"""The backbone registry: the space's ``base_model`` values and the torchvision nets they build.

Torch-free (the entrypoint validates a config before importing torch); the models themselves are
built in ``training/models.py``.

Backbone names (the sweep YAML's ``base_model`` values) and what they build:

==================  ====================  ==========================================================
``base_model``      torchvision model     why
==================  ====================  ==========================================================
resnet50            resnet50              the paper's model
efficientnet_b0     efficientnet_b0       the paper's model
efficientnet_b5     efficientnet_b5       the paper's model
densenet121         densenet121           the paper's model
inception_v3        inception_v3          the paper's model (needs >= 75 px input)
xception            convnext_tiny         not in torchvision. Xception is a residual stack of
                                          depthwise-separable convolutions (22.9M params, 79.0%
                                          ImageNet top-1). ConvNeXt-Tiny is the torchvision net of
                                          the same build (residual blocks of depthwise 7x7 conv +
                                          pointwise 1x1 convs) and size (28.6M, 82.1%). MobileNetV2
                                          and EfficientNet share the depthwise idea too, but they
                                          are 3-5M mobile nets and are already other values of the
                                          space: mapping onto them would make two choices one model.
nasnet_mobile       mnasnet1_0            not in torchvision. NASNet-A Mobile is a mobile net found
                                          by neural architecture search (5.3M params, 74.0%);
                                          MnasNet-1.0 is torchvision's NAS-found mobile net
                                          (4.4M, 73.5%).
resnet18            resnet18              CPU-friendly extra
mobilenet_v2        mobilenet_v2          CPU-friendly extra; its ImageNet weights install offline
mobilenet_v3_small  mobilenet_v3_small    CPU-friendly extra
==================  ====================  ==========================================================
Tested through tests/training/test_models.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FINE_TUNING = ("feature_extraction", "partial_10", "partial_30", "full")


class ModelError(ValueError):
    """A backbone that cannot be built as asked, with the reason in words."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str  # the space's value, e.g. "xception"
    torchvision: str  # the torchvision builder, e.g. "convnext_tiny"
    head_attr: str  # the attribute that holds the ImageNet classifier
    min_input: int = 32  # smallest square input the network accepts (px)
    note: str = ""


BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in (
        BackboneSpec("resnet50", "resnet50", "fc"),
        BackboneSpec("efficientnet_b0", "efficientnet_b0", "classifier"),
        BackboneSpec("efficientnet_b5", "efficientnet_b5", "classifier"),
        BackboneSpec("densenet121", "densenet121", "classifier"),
        BackboneSpec("inception_v3", "inception_v3", "fc", min_input=75),
        BackboneSpec("xception", "convnext_tiny", "classifier",
                     note="not in torchvision: nearest is ConvNeXt-Tiny (depthwise-separable residual)"),
        BackboneSpec("nasnet_mobile", "mnasnet1_0", "classifier",
                     note="not in torchvision: nearest is MnasNet-1.0 (NAS-found mobile net)"),
        BackboneSpec("resnet18", "resnet18", "fc"),
        BackboneSpec("mobilenet_v2", "mobilenet_v2", "classifier"),
        BackboneSpec("mobilenet_v3_small", "mobilenet_v3_small", "classifier"),
    )
}
PAPER_BACKBONES = ("resnet50", "efficientnet_b0", "efficientnet_b5", "densenet121", "inception_v3",
                   "xception", "nasnet_mobile")
CPU_BACKBONES = ("resnet18", "mobilenet_v2", "mobilenet_v3_small")

# Keras-style spellings ("EfficientNetB0", "NASNetMobile", "ResNet50") and torchvision names.
_ALIASES = {re.sub(r"[^a-z0-9]", "", k): k for k in BACKBONES}
_ALIASES.update({re.sub(r"[^a-z0-9]", "", s.torchvision): s.name for s in BACKBONES.values()})
_ALIASES.update({"nasnetmobile": "nasnet_mobile", "nasnet": "nasnet_mobile", "mnasnet": "nasnet_mobile"})


def resolve_backbone(name: str) -> BackboneSpec:
    """The spec for a space value, accepting Keras and torchvision spellings."""
    key = _ALIASES.get(re.sub(r"[^a-z0-9]", "", str(name).lower()))
    if key is None:
        raise ModelError(f"unknown base_model {name!r}; choose one of: {', '.join(BACKBONES)}")
    return BACKBONES[key]


def input_size(spec: BackboneSpec, image_size: int) -> int:
    """The square input side the images are resized to: image_size, raised to the backbone's minimum."""
    return max(int(image_size), spec.min_input)
