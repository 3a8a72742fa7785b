"""The machine a run trained on, as recorded in ``train_summary.json`` (and shown by the report)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from .precision import cpu_bf16_instructions, cpu_capability


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's words for it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device_type: str) -> dict:
    """CPU model, logical cores this process may use, torch threads, torch's CPU capability (e.g.
    AVX512, AVX2), whether the CPU has AVX512-BF16/AMX, the device trained on (``cpu`` or the CUDA
    device's name and count), the torch and Python versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        evfer_version = version("evfer")
    except PackageNotFoundError:
        evfer_version = "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = "cpu"
    if device_type == "cuda" and torch.cuda.is_available():
        device = f"cuda: {torch.cuda.get_device_name()} x {torch.cuda.device_count()}"
    elif device_type != "cpu":
        device = device_type
    return {
        "cpu": cpu_model(),
        "cpu_cores": cores,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": cpu_capability(),
        "cpu_bf16_instructions": cpu_bf16_instructions(),
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "evfer": evfer_version,
    }


def machine_line(device_type: str = "cpu") -> str:
    """One line for benchmark and timing output: CPU model, cores, torch threads, torch's CPU
    capability and whether the CPU has AVX512-BF16/AMX."""
    m = describe_machine(device_type)
    return (f"machine: {m['cpu']}, {m['cpu_cores']} cores, {m['torch_threads']} torch threads, CPU capability "
            f"{m['cpu_capability']}, AVX512-BF16/AMX {'yes' if m['cpu_bf16_instructions'] else 'no'}, "
            f"torch {m['torch']}")
