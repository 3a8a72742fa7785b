"""A run's checkpoints: finding them, rebuilding the model, and the one reader of a run's config.

Every checkpoint written by :class:`~evfer.training.module.RecognizerModule` is self-describing:
its ``hyper_parameters`` hold ``architecture`` (the ``model:`` section + num_classes + in_channels),
``classes`` (the class names, in logit order) and ``config`` (the run's resolved config, data paths
absolute). That config is the truth about a run: ``evfer evaluate``, ``predict``, ``export`` and the
resume check all read it here. ``config.yaml`` in the run directory is a rendering of the same
config for people (it says so in its first line), written when the data are prepared; the report
page shows it, and nothing is computed from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ..atomic import atomic_path, no_space, space_left
from ..config import Config
from ..configure import config_from_dict
from ..errors import ConfigError, InputError, OutputError
from ..models import Ensemble, Recognizer, check_compatible, read_checkpoint, strip_prefix

#: hyper_parameters key of the architecture; "evfer_model" in checkpoints of evfer <= 0.1.0.
ARCHITECTURE_KEYS = ("architecture", "evfer_model")


def write_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` ``checkpoint`` to ``path`` atomically: a full disk or a killed process never
    leaves a truncated file under the final name (nor a temporary behind); OutputError naming
    ``path`` when it cannot be written."""

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            torch.save(dict(checkpoint), tmp)
    except OSError as exc:
        raise OutputError(path, f"cannot write the checkpoint ({exc.strerror or exc})") from None
    except RuntimeError as exc:  # torch's zip writer reports a failed write (a full disk) as a RuntimeError
        raise OutputError(path, f"cannot write the checkpoint ({_write_failure(path, exc)})") from None


def _write_failure(path: Path, exc: Exception) -> str:
    """Why torch could not write ``path``: a full disk when little space is left, else its message."""
    free = space_left(path)
    if free is not None and free < 64 * 2**20:
        return no_space(free)
    return " ".join(str(exc).split())[:200]


class Restored(NamedTuple):
    """A trained model (eval mode, CPU; an :class:`Ensemble` for an ensemble run), its class names and
    the run's config."""

    model: Recognizer | Ensemble
    classes: list[str]
    config: Config


def find_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The run's best checkpoint (``checkpoints/best.ckpt``), else ``last.ckpt``; InputError if none."""
    run_dir = Path(run_dir)
    for name in ("best.ckpt", "last.ckpt"):
        p = run_dir / "checkpoints" / name
        if p.is_file():
            return p
    raise InputError(run_dir, "no model in this run directory (checkpoints/best.ckpt missing; train first)")


def _hparams(ckpt: Mapping[str, Any], source: str | os.PathLike) -> dict[str, Any]:
    hp = ckpt.get("hyper_parameters")
    if not isinstance(hp, Mapping) or "classes" not in hp or "config" not in hp:
        raise InputError(source, "not an evfer training checkpoint (no classes/config in its hyper-parameters)")
    return dict(hp)


def _config(hp: Mapping[str, Any], source: str | os.PathLike) -> Config:

    try:
        return config_from_dict(hp["config"])
    except ConfigError as exc:
        raise InputError(source, f"stored run config is not valid in this version of evfer ({exc})") from None


def read_hparams(path: str | os.PathLike) -> dict[str, Any]:
    """The hyper-parameters a checkpoint stores (architecture, classes, config, the training clips'
    statistics ``clips``); tensors are memory-mapped, not read."""
    return _hparams(read_checkpoint(path, mmap=True), path)


def read_config(path: str | os.PathLike) -> Config:
    """The run config stored in checkpoint ``path`` (tensors are memory-mapped, not read)."""
    return _config(_hparams(read_checkpoint(path, mmap=True), path), path)


def restore_model(ckpt: Mapping[str, Any], source: str | os.PathLike | None = None) -> Recognizer | Ensemble:
    """Rebuild the :class:`Recognizer` (or the :class:`Ensemble` of an ensemble run) of an already-loaded
    checkpoint and load its weights (strict); one-line InputError naming ``source`` when the
    architecture is missing or does not fit the weights."""
    hp = ckpt.get("hyper_parameters") or {}
    arch = next((hp[k] for k in ARCHITECTURE_KEYS if isinstance(hp.get(k), Mapping)), None)
    if arch is None:
        raise InputError(source, "checkpoint has no evfer model architecture (not an evfer checkpoint)")
    arch = {k: v for k, v in arch.items() if k != "zero_init_residual"}  # an option of evfer <= 0.1.0, never set
    stored = arch.pop("ensemble", None)
    if stored is not None:
        members = stored if isinstance(stored, int) and not isinstance(stored, bool) else 0
        if members < 1:
            raise InputError(source, f"stored ensemble size is invalid ({stored!r})")
        model = Ensemble([Recognizer.from_architecture(arch, source) for _ in range(members)])
        anchor = "members.0.lstm.weight_ih_l0"
    else:
        model = Recognizer.from_architecture(arch, source)
        anchor = "lstm.weight_ih_l0"
    state, _ = strip_prefix(ckpt.get("state_dict", {}), anchor=anchor)
    check_compatible(model, state, source, what=model.describe())
    model.load_state_dict(state, strict=True)
    return model


def load_checkpoint(path: str | os.PathLike) -> Restored:
    """(model in eval mode, class names, the run's config) from a training checkpoint file."""
    ckpt = read_checkpoint(path)
    hp = _hparams(ckpt, path)
    return Restored(restore_model(ckpt, path).eval(), list(hp["classes"]), _config(hp, path))
