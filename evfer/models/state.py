"""Reading checkpoint files and the state dicts inside them (any wrapper: Lightning, DDP, timm).

- :func:`read_checkpoint` — ``torch.load`` a file safely (tensors and plain values only).
- :func:`extract_state_dict` — the tensor dict inside a checkpoint object.
- :func:`strip_prefix` — remove the wrapper prefix ("net.", "module.", "model.backbone.", ...).
- :func:`check_compatible` — a one-line error unless a state dict fits a model exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError


def read_checkpoint(path: str | os.PathLike, *, mmap: bool = False) -> dict:
    """``torch.load`` a checkpoint file on CPU (tensors only, no arbitrary code); InputError if unusable.

    ``mmap``: map the tensors instead of reading them (cheap when only the plain values are needed).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # pickle, zip and version errors all mean the same to the user
        text = str(exc)
        if "Unsupported global" in text:  # a pickled class or function: the file would run code to load
            raise InputError(path, "the checkpoint holds Python objects besides tensors and plain values; evfer "
                                   "never runs code from a checkpoint, so it is not loaded") from None
        if "WeightsUnpickler error:" in text:  # PyTorch's advice to load unsafely is not ours to give
            detail = " ".join(text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation")[0].split())
            raise InputError(path, f"not a readable PyTorch checkpoint ({detail[:120] or 'unpickling failed'})") from None
        reason = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
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


def strip_prefix(state: Mapping[str, torch.Tensor], anchor: str) -> tuple[dict[str, torch.Tensor], str]:
    """Remove the wrapper prefix ("net.", "module.", "model.backbone.", ...) from the keys.

    The prefix is what precedes ``anchor`` in the shortest key ending with it (``anchor`` =
    "conv1.weight" finds the stem conv, not ``layer1.0.conv1.weight``). Keys without that prefix
    and non-tensor values are dropped. Without a key ending in ``anchor`` the tensors are returned
    as they are. Returns (state, prefix).
    """
    tensors = {k: v for k, v in state.items() if torch.is_tensor(v)}
    hits = [k for k in tensors if k == anchor or k.endswith("." + anchor)]
    if not hits:
        return tensors, ""
    prefix = min(hits, key=len)[: -len(anchor)]
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, prefix


def check_compatible(model: nn.Module, state: Mapping[str, torch.Tensor], source: str | os.PathLike | None,
                     what: str | None = None) -> None:
    """InputError (one line, naming ``source``) unless ``state`` has exactly ``model``'s keys and shapes.

    ``what`` describes the model in the message (default: its class name).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or wrong):
        return
    problems = []
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} in the "
                        f"checkpoint, {tuple(own[k].shape)} in the model)")
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    raise InputError(source, f"checkpoint is for another architecture than {what or type(model).__name__}: "
                             + "; ".join(problems))
