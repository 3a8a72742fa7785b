"""The backbone registry: ``model.backbone`` name → :class:`~evfer.models.spec.Backbone`.

Adding a backbone = one module that defines the network with torchvision's parameter names and
its :class:`Backbone` entry, plus one line here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import torch

from ..errors import ConfigError, did_you_mean
from . import mobilenet, resnet
from .spec import Backbone

BACKBONES: dict[str, Backbone] = {
    "resnet18": resnet.spec("resnet18"),
    "resnet34": resnet.spec("resnet34"),
    "resnet50": resnet.spec("resnet50"),
    "resnet101": resnet.spec("resnet101"),
    "resnet152": resnet.spec("resnet152"),
    "mobilenet_v2": mobilenet.SPEC,
}


def get_backbone(name: str) -> Backbone:
    """The registry entry ``name``; ConfigError naming ``model.backbone`` and the valid names otherwise."""
    if name not in BACKBONES:
        raise ConfigError(f"model.backbone: {name!r} is not a valid choice{did_you_mean(name, BACKBONES)} "
                          f"(valid: {', '.join(BACKBONES)})")
    return BACKBONES[name]


@lru_cache(maxsize=None)
def _layout(name: str) -> frozenset[str]:
    """State-dict keys of backbone ``name`` without its classifier and batch counters (shapes not built)."""
    with torch.device("meta"):
        keys = BACKBONES[name].build(num_classes=0).state_dict().keys()
    return frozenset(k for k in keys if not k.endswith("num_batches_tracked"))


def identify(keys: Iterable[str]) -> str | None:
    """The registered backbone whose state-dict keys are ``keys`` (prefix stripped; the classifier and
    batch counters may be present or not), or None. Used to name a wrong-architecture checkpoint."""
    keys = {k for k in keys if not k.endswith("num_batches_tracked")}
    for name, entry in BACKBONES.items():
        if {k for k in keys if not k.startswith(entry.classifier)} == _layout(name):
            return name
    return None
