"""What the recognizer needs to know about a backbone: :class:`Backbone` (one per registry entry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class Backbone:
    """How to build a backbone and where its official ImageNet weights are.

    Attributes:
        build: ``build(in_channels=C, num_classes=K)`` → the network with torchvision's parameter names;
            ``num_classes=0`` gives the feature extractor, whose forward maps (N, C, H, W) →
            pooled features (N, feature_dim).
        feature_dim: F, the pooled feature size.
        stem: state-dict key of the first convolution's weight (adapted to ``in_channels``).
        classifier: key prefix of the ImageNet classifier (dropped when the class count differs).
        imagenet: torchvision's official weights, variant ("imagenet1k_v1", ...) → URL; the file name
            ends in the first 8 hex digits of its SHA-256. ``pretrained: imagenet`` takes the last one.
    """

    build: Callable[..., nn.Module]
    feature_dim: int
    stem: str
    classifier: str
    imagenet: Mapping[str, str] = field(default_factory=dict)
