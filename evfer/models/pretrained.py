"""Load ImageNet weights (torchvision / timm checkpoints) into a registered backbone.

``pretrained: PATH`` reads a local checkpoint; ``pretrained: imagenet`` (or ``imagenet1k_v1`` /
``imagenet1k_v2``) asks torch.hub for torchvision's official file by its URL, so a file already in
``$TORCH_HOME/hub/checkpoints/<official file name>`` is used without network.

The stem convolution is adapted from RGB to ``in_channels`` (:func:`adapt_first_conv`; loaded
untouched when ``in_channels`` is 3), a classifier with another class count is dropped, and every
key is accounted for in a :class:`LoadReport` (loaded / adapted / skipped / missing), also logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import ConfigError, InputError
from .backbones import get_backbone, identify
from .spec import Backbone
from .state import extract_state_dict, read_checkpoint, strip_prefix

log = logging.getLogger("evfer.models")

#: ``pretrained:`` values that ask torch.hub; "imagenet" is torchvision's DEFAULT (v2 where it exists).
IMAGENET_CHOICES = ("imagenet", "imagenet1k_v1", "imagenet1k_v2")


@dataclass
class LoadReport:
    """What happened to every tensor when loading a pretrained checkpoint (keys without prefix)."""

    source: str
    architecture: str
    loaded: list[str] = field(default_factory=list)
    adapted: dict[str, str] = field(default_factory=dict)  # key → how it was adapted
    skipped: dict[str, str] = field(default_factory=dict)  # checkpoint key → why it was not used
    missing: list[str] = field(default_factory=list)  # model keys the checkpoint lacks (kept at init)

    def summary(self) -> str:
        """One line: counts, the adapted keys and the reasons for skipping."""
        parts = [f"{len(self.loaded)} tensors loaded"]
        if self.adapted:
            parts.append("adapted " + "; ".join(f"{k} ({v})" for k, v in self.adapted.items()))
        if self.skipped:
            reasons: dict[str, list[str]] = {}
            for key, why in self.skipped.items():
                reasons.setdefault(why, []).append(key)
            parts.append("skipped " + "; ".join(f"{', '.join(k)} ({w})" for w, k in reasons.items()))
        if self.missing:
            parts.append(f"missing {len(self.missing)} (kept at init: {', '.join(self.missing[:4])}"
                         + (", ..." if len(self.missing) > 4 else "") + ")")
        return f"pretrained {self.architecture} from {self.source}: " + ", ".join(parts)

    __str__ = summary


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """RGB stem kernel (O, 3, k, k) → (O, in_channels, k, k).

    Rule: average the kernel over its 3 input channels, repeat it over the ``in_channels`` voxel
    channels and multiply by ``3 / in_channels``. This keeps the kernel's sum over input channels,
    so an input that is constant across channels (value v in every voxel bin) gives the same
    response as the RGB kernel on a grey image of value v; the same rescaling as timm's
    ``adapt_input_conv``. (An input of the same *total* over channels, v·3 spread over the bins,
    gets 3/in_channels of that response instead.)
    """
    if weight.dim() != 4:
        raise ValueError(f"expected a 4-d conv weight, got shape {tuple(weight.shape)}")
    mean = weight.float().mean(dim=1, keepdim=True)
    return (mean.repeat(1, in_channels, 1, 1) * (weight.shape[1] / in_channels)).to(weight.dtype)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def imagenet_url(name: str, variant: str = "imagenet") -> str:
    """URL of torchvision's official ImageNet weights of backbone ``name``; ConfigError naming
    ``model.pretrained`` when the backbone has no such variant."""
    urls = get_backbone(name).imagenet
    if not urls:
        raise ConfigError(f"model.pretrained: no ImageNet weights known for backbone {name!r}; use a checkpoint PATH")
    if variant == "imagenet":
        return list(urls.values())[-1]
    if variant not in urls:
        raise ConfigError(f"model.pretrained: {variant} does not exist for {name} (choices: imagenet, {', '.join(urls)})")
    return urls[variant]


def load_pretrained(backbone: nn.Module, pretrained: str | os.PathLike, name: str) -> LoadReport:
    """Load ImageNet weights into ``backbone`` (built from registry entry ``name``).

    ``pretrained`` is a checkpoint path, or one of :data:`IMAGENET_CHOICES` (torch.hub). Adapts the
    stem to the model's input channels (:func:`adapt_first_conv`), skips the classifier when the model
    has none or another class count, and raises a one-line InputError for a checkpoint of another
    architecture. Returns (and logs) the :class:`LoadReport`.
    """
    if str(pretrained).lower() in IMAGENET_CHOICES:
        state, source = download_imagenet(name, str(pretrained).lower()), str(pretrained).lower()
    else:
        source = os.fspath(pretrained)
        state = extract_state_dict(read_checkpoint(pretrained), source)
    report = load_backbone_state(backbone, state, name, source)
    log.info("%s", report.summary())
    return report


def load_backbone_state(model: nn.Module, state: Mapping[str, torch.Tensor], name: str, source: str) -> LoadReport:
    """Copy a torchvision-named state dict into ``model``; see :func:`load_pretrained`."""
    entry: Backbone = get_backbone(name)
    state, _ = strip_prefix(state, entry.stem)
    own = model.state_dict()
    report = LoadReport(source=source, architecture=name)
    backbone_keys = [k for k in state if not k.startswith(entry.classifier)]
    if not any(k in own for k in backbone_keys):
        first = ", ".join(list(state)[:3])
        raise InputError(source, f"checkpoint has no {name} weights (first keys: {first})")
    found = identify(state.keys())
    if found is not None and found != name:
        raise InputError(source, f"checkpoint holds {found} weights, the model is {name}")

    new_state: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(entry.classifier):
            if key not in own:
                report.skipped[key] = "model has no classifier"
            elif value.shape != own[key].shape:
                report.skipped[key] = f"checkpoint has {value.shape[0]} classes, model {own[key].shape[0]}"
            else:
                new_state[key] = value
                report.loaded.append(key)
            continue
        if key not in own:
            raise InputError(source, f"checkpoint key {key!r} does not exist in {name} (other architecture?)")
        target = own[key]
        if key == entry.stem and value.shape != target.shape:
            if value.dim() == 4 and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
                new_state[key] = adapt_first_conv(value, target.shape[1])
                src, dst = value.shape[1], target.shape[1]
                report.adapted[key] = f"{src}→{dst} channels, mean x{src}/{dst}"
                continue
        if value.shape != target.shape:
            raise InputError(source, f"{key} has shape {_shape(value)} in the checkpoint but "
                                     f"{_shape(target)} in {name}: not {name} weights")
        new_state[key] = value
        report.loaded.append(key)

    report.missing = [k for k in own if k not in new_state]
    serious = [k for k in report.missing if not (k.startswith(entry.classifier) or k.endswith("num_batches_tracked"))]
    if serious:
        examples = ", ".join(serious[:3])
        raise InputError(source, f"checkpoint lacks {len(serious)} {name} tensors (e.g. {examples})")
    with torch.no_grad():
        for key, value in new_state.items():
            own[key].copy_(value.to(own[key].dtype))
    return report


def download_imagenet(name: str, variant: str = "imagenet") -> dict[str, torch.Tensor]:
    """torchvision's ImageNet state dict for backbone ``name`` via torch.hub.

    torch.hub looks in ``$TORCH_HOME/hub/checkpoints/<file name of the URL>`` first (no network then),
    else downloads there (checking the SHA-256 prefix in the name). Neither possible → one-line
    InputError naming the file and the cache folder.
    """
    url = imagenet_url(name, variant)
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, check_hash=True)
    except (OSError, RuntimeError) as exc:  # URLError, HTTPError, timeouts: OSError; bad hash: RuntimeError
        lines = str(getattr(exc, "reason", exc)).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        folder = os.path.join(torch.hub.get_dir(), "checkpoints")
        raise InputError(url, f"cannot download {name} ImageNet weights ({reason}); without network, put "
                              f"{os.path.basename(url)} in {folder} or set pretrained: PATH") from None
