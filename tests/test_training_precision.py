"""train.precision: auto picks bf16 only where it is native; explicit bf16 warns where it is emulated."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import torch

from evfer.configure import load_config
from evfer.training import precision as P


@pytest.fixture
def cpu(monkeypatch):
    """Set the CPU torch reports: cpu(capability, bf16_instructions)."""

    def set_cpu(capability: str, bf16_instructions: bool):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16_instructions)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)

    return set_cpu


def test_auto_on_cpus(cpu):
    cpu("AVX512", True)  # e.g. Sapphire Rapids: AVX512-BF16 and AMX
    choice = P.resolve_precision("auto", "cpu")
    assert choice.name == "bf16" and choice.lightning == "bf16-mixed" and "AVX512" in choice.reason
    cpu("AVX2", True)  # bf16 hardware, but torch limited to AVX2 kernels (ATEN_CPU_CAPABILITY=avx2)
    choice = P.resolve_precision("auto", "cpu")
    assert choice.name == "fp32" and choice.lightning == "32-true" and "AVX2" in choice.reason
    cpu("AVX512", False)  # AVX-512 without its bf16 instructions (e.g. Skylake-X): emulated
    assert P.resolve_precision("auto", "cpu").name == "fp32"
    cpu("DEFAULT", False)
    assert P.resolve_precision("auto", "cpu").name == "fp32"
    assert P.resolve_precision("auto", "mps").name == "fp32"


def test_explicit_choices_are_kept_and_emulated_bf16_warns(cpu):
    cpu("AVX2", False)
    with pytest.warns(UserWarning, match=r"train\.precision=bf16 on a cpu without native bf16 \(CPU capability "
                                         r"AVX2.*several times slower than fp32"):
        assert P.resolve_precision("bf16", "cpu").name == "bf16"
    cpu("AVX512", True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert P.resolve_precision("bf16", "cpu").name == "bf16"
        assert P.resolve_precision("fp32", "cpu").name == "fp32"


def test_cuda_needs_native_bf16(monkeypatch):
    support = {"native": True}
    calls = []

    def is_bf16_supported(including_emulation=True):
        calls.append(including_emulation)
        return support["native"] or including_emulation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Test GPU")
    assert P.resolve_precision("auto", "cuda").name == "bf16"
    support["native"] = False  # e.g. a V100: bf16 only emulated
    assert P.resolve_precision("auto", "cuda").name == "fp32"
    assert calls == [False, False]
    assert P.device_type("gpu") == "cuda" and P.device_type("cpu") == "cpu" and P.device_type("auto") == "cuda"


def test_cpu_inference_is_fp32_whatever_the_training_precision(cpu):
    """evaluate and predict must give the same numbers on every CPU: no bf16 autocast at inference on
    a CPU, even where training picked bf16 (AVX512-BF16) or was told to."""
    for precision in ("auto", "bf16", "fp32"):
        cfg = load_config(None, [f"train.precision={precision}"])
        for capability in ("AVX2", "AVX512"):
            cpu(capability, True)
            with P.autocast_for(cfg, torch.device("cpu")):
                assert not torch.is_autocast_enabled("cpu")


def test_cuda_inference_follows_the_training_precision(monkeypatch):
    cfg = load_config(None, ["train.precision=bf16"])
    monkeypatch.setattr(P, "resolve_precision", lambda requested, device: P.Precision("bf16", "test"))
    ctx = P.autocast_for(cfg, torch.device("cuda"))
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16


def test_avx2_environment_really_selects_fp32():
    """Not mocked: torch started with its kernels limited to AVX2 reports it, and auto picks fp32."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    code = ("from evfer.training.precision import resolve_precision, cpu_capability; "
            "c = resolve_precision('auto', 'cpu'); print(cpu_capability(), c.name)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["AVX2", "fp32"]


def test_machine_line_names_the_capability_torch_reports():
    """Benchmarks print this line with their figures: the capability must be torch's own."""
    from evfer.training.machine import describe_machine, machine_line

    line = machine_line()
    assert f"CPU capability {torch.backends.cpu.get_cpu_capability()}," in line
    assert describe_machine("cpu")["cpu_cores"] >= 1 and line.startswith("machine: ")
