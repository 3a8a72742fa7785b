"""Models: torchvision-compatible ResNets and the ResNet + LSTM clip recognizer.

- :mod:`.resnet` — ResNet-18/34/50/101/152 (torchvision key names; ``in_channels`` stem; feature mode).
- :mod:`.pretrained` — ImageNet checkpoints (path or torch.hub) with first-conv adaptation + report.
- :mod:`.recognizer` — :class:`ResNetLSTM`, :func:`build_model`, checkpoint save/load with hparams.
"""

from __future__ import annotations

from .pretrained import (
    IMAGENET_CHOICES,
    IMAGENET_URLS,
    LoadReport,
    adapt_first_conv,
    load_pretrained_resnet,
)
from .recognizer import (
    HPARAMS_KEY,
    ModelConfig,
    ResNetLSTM,
    build_model,
    check_compatible,
    find_hparams,
    load_model,
    save_checkpoint,
)
from .resnet import (
    ARCHITECTURES,
    ResNet,
    feature_dim,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)

__all__ = [
    "ARCHITECTURES",
    "HPARAMS_KEY",
    "IMAGENET_CHOICES",
    "IMAGENET_URLS",
    "LoadReport",
    "ModelConfig",
    "ResNet",
    "ResNetLSTM",
    "adapt_first_conv",
    "build_model",
    "check_compatible",
    "feature_dim",
    "find_hparams",
    "load_model",
    "load_pretrained_resnet",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "save_checkpoint",
]
