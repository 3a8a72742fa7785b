"""Numeric precision of training and inference (``train.precision``: auto, bf16 or fp32).

``auto`` takes bf16 only where the hardware computes it natively, fp32 elsewhere:

- CUDA: devices that support bf16 without emulation (Ampere and later);
- CPU: torch's CPU capability is an AVX-512 level *and* the CPU has AVX512-BF16 or AMX. On an
  AVX2-only CPU bf16 autocast is emulated and measured ~11x slower than fp32 (torch 2.13); a CPU
  with AVX-512 but without its bf16 instructions also emulates it;
- anything else (MPS, ...): fp32.

An explicit ``bf16`` is kept, with a warning where it is emulated. The choice and its reason go
into ``train_summary.json`` and the log.

Inference (evaluation, prediction, export checks) on a CPU always runs in fp32, whatever the model
was trained in: at inference batch sizes it costs little, and it makes ``evfer evaluate`` and
``evfer predict`` give the same probabilities on every CPU (bf16 kernels differ between CPUs and
between batch sizes). On CUDA inference follows ``train.precision``.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..config import Config

log = logging.getLogger(__name__)

#: precision → Lightning's precision plugin name.
LIGHTNING_PRECISION = {"bf16": "bf16-mixed", "fp32": "32-true"}


@dataclass(frozen=True)
class Precision:
    """The precision a run computes in (``bf16`` or ``fp32``) and why."""

    name: str
    reason: str

    @property
    def lightning(self) -> str:
        return LIGHTNING_PRECISION[self.name]


def cpu_capability() -> str:
    """torch's CPU kernel level, e.g. "AVX512", "AVX2", "DEFAULT" (follows ``ATEN_CPU_CAPABILITY``)."""
    return torch.backends.cpu.get_cpu_capability()


def cpu_bf16_instructions() -> bool:
    """Whether the CPU has AVX512-BF16 or AMX (the instructions that make bf16 matmuls native)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def native_bf16(device_type: str) -> tuple[bool, str]:
    """(whether ``device_type`` computes bf16 natively, the reason in words)."""
    if device_type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"CUDA device {torch.cuda.get_device_name()} supports bf16"
        return False, "CUDA device without native bf16"
    if device_type != "cpu":
        return False, f"{device_type} device"
    cap = cpu_capability()
    if not cap.startswith("AVX512"):
        return False, f"CPU capability {cap}: bf16 would be emulated"
    if not cpu_bf16_instructions():
        return False, f"CPU capability {cap} without AVX512-BF16/AMX: bf16 would be emulated"
    return True, f"CPU capability {cap} with AVX512-BF16/AMX"


def device_type(accelerator: str) -> str:
    """The torch device type a ``train.accelerator`` setting trains on ("auto": CUDA when present)."""
    if accelerator == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return {"gpu": "cuda"}.get(accelerator, accelerator)


def resolve_precision(requested: str, device: str) -> Precision:
    """``train.precision`` (auto / bf16 / fp32) on torch device type ``device`` → :class:`Precision`.

    Warns when an explicit ``bf16`` will be emulated (several times slower than fp32).
    """
    if requested == "fp32":
        return Precision("fp32", "train.precision=fp32")
    native, why = native_bf16(device)
    if requested == "bf16":
        if not native:
            warnings.warn(f"train.precision=bf16 on a {device} without native bf16 ({why}): expect it to run "
                          "several times slower than fp32; use train.precision=auto or fp32", stacklevel=2)
        return Precision("bf16", f"train.precision=bf16 ({why})")
    return Precision("bf16" if native else "fp32", f"auto: {why}")


def autocast_for(cfg: Config, device: torch.device):
    """The autocast context for inference on ``device``: none (fp32) on a CPU; on other devices
    bf16 where ``cfg.train.precision`` resolves to it."""
    if device.type != "cpu" and resolve_precision(cfg.train.precision, device.type).name == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
