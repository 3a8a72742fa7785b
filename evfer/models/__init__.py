"""Models: backbones with torchvision's parameter names and the backbone + LSTM clip recognizer.

- :mod:`.backbones` — the registry ``model.backbone`` name → :class:`Backbone` (build, ImageNet URLs).
- :mod:`.resnet` — ResNet-18/34/50/101/152 (``in_channels`` stem; feature mode).
- :mod:`.pretrained` — ImageNet checkpoints (path or torch.hub cache) with stem adaptation + report.
- :mod:`.recognizer` — :class:`Recognizer`, :func:`build_model`, :func:`check_model_config`.
- :mod:`.ensemble` — :class:`Ensemble`: K recognizers as one model (the mean of their probabilities).
- :mod:`.state` — reading checkpoint files, stripping wrapper prefixes, compatibility checks.

Architecture settings are :class:`evfer.config.ModelConfig` (the ``model:`` section of a config).
"""

from __future__ import annotations

from .backbones import BACKBONES, get_backbone, identify
from .ensemble import Ensemble
from .pretrained import IMAGENET_CHOICES, LoadReport, adapt_first_conv, imagenet_url, load_pretrained
from .recognizer import Recognizer, build_model, check_model_config
from .resnet import ResNet, feature_dim, resnet
from .spec import Backbone
from .state import check_compatible, extract_state_dict, read_checkpoint, strip_prefix

__all__ = [
    "BACKBONES",
    "IMAGENET_CHOICES",
    "Backbone",
    "Ensemble",
    "LoadReport",
    "Recognizer",
    "ResNet",
    "adapt_first_conv",
    "build_model",
    "check_compatible",
    "check_model_config",
    "extract_state_dict",
    "feature_dim",
    "get_backbone",
    "identify",
    "imagenet_url",
    "load_pretrained",
    "read_checkpoint",
    "resnet",
    "strip_prefix",
]
