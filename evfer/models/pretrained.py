"""Load ImageNet ResNet weights (torchvision / timm checkpoints) into an evfer :class:`ResNet`.

``pretrained: PATH`` reads a local checkpoint; ``pretrained: imagenet`` (or ``imagenet1k_v1`` /
``imagenet1k_v2``) fetches torchvision's official file through ``torch.hub`` (cached under
``$TORCH_HOME/hub/checkpoints``, so a machine without network can use a file placed there, or PATH).

The first convolution is adapted from RGB to ``in_channels`` voxel bins (:func:`adapt_first_conv`),
a classifier with another class count is dropped, and every key is accounted for in a
:class:`LoadReport` (loaded / adapted / skipped / missing), which is also logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ConfigError, InputError
from .resnet import ResNet, infer_architecture

log = logging.getLogger("evfer.models")

#: torchvision's official ImageNet-1k weights: arch → {variant: url}. The 8 hex digits in each file
#: name are the start of its SHA-256, checked by torch.hub (check_hash=True).
IMAGENET_URLS: dict[str, dict[str, str]] = {
    "resnet18": {"imagenet1k_v1": "https://download.pytorch.org/models/resnet18-f37072fd.pth"},
    "resnet34": {"imagenet1k_v1": "https://download.pytorch.org/models/resnet34-b627a593.pth"},
    "resnet50": {
        "imagenet1k_v1": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
        "imagenet1k_v2": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    },
    "resnet101": {
        "imagenet1k_v1": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
        "imagenet1k_v2": "https://download.pytorch.org/models/resnet101-cd907fc2.pth",
    },
    "resnet152": {
        "imagenet1k_v1": "https://download.pytorch.org/models/resnet152-394f9c45.pth",
        "imagenet1k_v2": "https://download.pytorch.org/models/resnet152-f82ba261.pth",
    },
}
#: ``pretrained:`` values that download; "imagenet" is torchvision's DEFAULT (v2 where it exists).
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
    """RGB stem kernel (64, 3, k, k) → (64, in_channels, k, k).

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


def read_checkpoint(path: str | os.PathLike) -> dict:
    """``torch.load`` a checkpoint file on CPU (tensors only, no arbitrary code); InputError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and version errors all mean the same to the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"not a readable PyTorch checkpoint ({reason[:200]})") from None
    if not isinstance(obj, Mapping):
        raise InputError(path, f"checkpoint holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def extract_state_dict(obj: Mapping, source: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: the object itself or its "state_dict" / "model" entry."""
    for key in ("state_dict", "model", "model_state_dict", "state_dict_ema"):
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(torch.is_tensor(v) for v in inner.values()):
            return dict(inner)
    tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        raise InputError(source, "checkpoint holds no tensors (expected a state dict, or a dict with "
                                 "a 'state_dict' or 'model' entry)")
    return tensors


def strip_prefix(state: Mapping[str, torch.Tensor], anchor: str = "conv1.weight") -> tuple[dict, str]:
    """Remove the wrapper prefix ("module.", "model.", "model.backbone.", ...) from the keys.

    The prefix is what precedes ``anchor`` in the shortest key ending with it (the stem conv, not
    ``layer1.0.conv1.weight``). Keys without that prefix are dropped. Returns (state, prefix).
    """
    candidates = [k for k in state if k == anchor or k.endswith("." + anchor)]
    if not candidates:
        return dict(state), ""
    prefix = min(candidates, key=len)[: -len(anchor)]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, prefix


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def load_pretrained_resnet(model: ResNet, pretrained: str | os.PathLike, arch: str) -> LoadReport:
    """Load ImageNet weights into ``model`` (a :class:`ResNet` of architecture ``arch``).

    ``pretrained`` is a checkpoint path, or one of :data:`IMAGENET_CHOICES` to download. Adapts the
    stem to ``model.in_channels`` (:func:`adapt_first_conv`), skips ``fc`` when the model has none
    or another class count, and raises a one-line InputError for a checkpoint of another
    architecture. Returns (and logs) the :class:`LoadReport`.
    """
    if str(pretrained).lower() in IMAGENET_CHOICES:
        state, source = download_imagenet(arch, str(pretrained).lower()), str(pretrained).lower()
    else:
        source = os.fspath(pretrained)
        state = extract_state_dict(read_checkpoint(pretrained), source)
    report = load_resnet_state(model, state, arch, source)
    log.info("%s", report.summary())
    return report


def load_resnet_state(model: ResNet, state: Mapping[str, torch.Tensor], arch: str, source: str) -> LoadReport:
    """Copy a torchvision-named state dict into ``model``; see :func:`load_pretrained_resnet`."""
    state, _ = strip_prefix(state)
    own = model.state_dict()
    report = LoadReport(source=source, architecture=arch)
    backbone_keys = [k for k in state if not k.startswith("fc.")]
    found = infer_architecture(state.keys())
    if not any(k in own for k in backbone_keys):
        first = ", ".join(list(state)[:3])
        raise InputError(source, f"checkpoint has no {arch} weights (first keys: {first})")
    if found is not None and found != arch:
        raise InputError(source, f"checkpoint holds {found} weights, the model is {arch}")

    new_state: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("fc."):
            if key not in own:
                report.skipped[key] = "model has no classifier"
            elif value.shape != own[key].shape:
                report.skipped[key] = f"checkpoint has {value.shape[0]} classes, model {own[key].shape[0]}"
            else:
                new_state[key] = value
                report.loaded.append(key)
            continue
        if key not in own:
            raise InputError(source, f"checkpoint key {key!r} does not exist in {arch} (other architecture?)")
        target = own[key]
        if key == "conv1.weight" and value.shape != target.shape:
            if value.dim() == 4 and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
                new_state[key] = adapt_first_conv(value, target.shape[1])
                src, dst = value.shape[1], target.shape[1]
                report.adapted[key] = f"{src}→{dst} channels, mean x{src}/{dst}"
                continue
        if value.shape != target.shape:
            raise InputError(source, f"{key} has shape {_shape(value)} in the checkpoint but "
                                     f"{_shape(target)} in {arch}: not {arch} weights")
        new_state[key] = value
        report.loaded.append(key)

    report.missing = [k for k in own if k not in new_state]
    serious = [k for k in report.missing if not (k.startswith("fc.") or k.endswith("num_batches_tracked"))]
    if serious:
        examples = ", ".join(serious[:3])
        raise InputError(source, f"checkpoint lacks {len(serious)} {arch} tensors (e.g. {examples})")
    with torch.no_grad():
        for key, value in new_state.items():
            own[key].copy_(value.to(own[key].dtype))
    return report


def download_imagenet(arch: str, variant: str = "imagenet") -> dict[str, torch.Tensor]:
    """Fetch torchvision's ImageNet state dict for ``arch`` via torch.hub (cached after the first time).

    ``variant``: "imagenet" (torchvision's DEFAULT: v2 where it exists, else v1), "imagenet1k_v1",
    "imagenet1k_v2". No network → InputError suggesting ``pretrained: PATH``.
    """
    urls = IMAGENET_URLS.get(arch)
    if urls is None:
        raise ConfigError(f"no ImageNet weights known for backbone {arch!r}; use pretrained: PATH")
    if variant == "imagenet":
        variant = "imagenet1k_v2" if "imagenet1k_v2" in urls else "imagenet1k_v1"
    if variant not in urls:
        raise ConfigError(f"pretrained: {variant} does not exist for {arch} (choices: {', '.join(urls)})")
    url = urls[variant]
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, check_hash=True)
    except (OSError, RuntimeError) as exc:  # URLError, HTTPError, timeouts: OSError; bad hash: RuntimeError
        lines = str(getattr(exc, "reason", exc)).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise InputError(url, f"cannot download {arch} ImageNet weights ({reason}); without network, "
                              f"fetch the file elsewhere and set pretrained: PATH") from None
