"""``evfer export CHECKPOINT -o model.onnx|model.pt``: a deployable model without evfer or Lightning.

- ``.onnx``: ONNX (opset 17, torch's TorchScript-based exporter), input ``voxels`` float32
  (batch, windows, C, H, W) (C: the model's input channels, e.g. voxel bins) with dynamic batch and
  window count, output ``logits`` (batch, K).
- ``.pt``: TorchScript (traced), same input and output.

A sidecar ``<output>.json`` records the class names and the voxel/emulator settings the input must be
made with. The export is checked against the PyTorch model on a random input before it is kept.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import torch

from ..atomic import atomic_path, remove_stale_temporaries, write_json_atomic
from ..config import to_dict
from ..datasets.inputs import MODEL_INPUT_OPTIONS, input_source
from ..datasets.kinds import clip_context
from ..datasets.source import EVENTS, FRAMES
from ..errors import EvferError, InputError, OutputError
from ..models import Ensemble
from ..voxel import representation_for
from .checkpoints import load_checkpoint, read_hparams
from .timeline import default_window


def export_model(checkpoint: str | Path, out: str | Path, *, opset: int = 17) -> dict:
    """Export the checkpoint's model to ``out`` (.onnx or .pt); returns the sidecar info (with the check)."""

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".onnx", ".pt"):
        raise InputError(out, "export target must end in .onnx (ONNX) or .pt (TorchScript)")
    model, classes, cfg = load_checkpoint(checkpoint)
    model = model.float().eval()
    if out.parent.is_dir():
        remove_stale_temporaries(out.parent)  # what a killed export was writing
        need = sum(p.numel() * 4 for p in model.parameters()) * 1.2 + 2**20
        free = shutil.disk_usage(out.parent).free
        if free < need:  # torch aborts the process (C++ trace, exit 134) when the disk fills mid-export
            raise OutputError(out, f"not enough space: the model needs about {need / 2**20:.0f} MB, "
                                   f"{free / 2**20:.1f} MB are free")
    w, h = cfg.voxel.size
    example = torch.randn(1, cfg.voxel.windows, model.in_channels, h, w)
    with torch.no_grad():
        reference = model(example)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == ".onnx":
            torch.onnx.export(model, (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=["voxels"], output_names=["logits"],
                              dynamic_axes={"voxels": {0: "batch", 1: "windows"}, "logits": {0: "batch"}})
            max_diff = _check_onnx(tmp, example, reference)
        else:
            with torch.no_grad():
                traced = torch.jit.trace(model, (example,), check_trace=False)
            traced.save(str(tmp))
            with torch.no_grad():
                max_diff = float((torch.jit.load(str(tmp))(example) - reference).abs().max())
        if max_diff is not None and max_diff > 1e-3:
            raise EvferError(f"{out}: exported model differs from the checkpoint (max |logit diff| {max_diff:.2e})")
    info = {
        "format": "onnx" if kind == ".onnx" else "torchscript",
        "checkpoint": str(checkpoint),
        "classes": classes,
        "input": {"name": "voxels", "shape": ["batch", "windows", model.in_channels, h, w], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", len(classes)], "softmax": False},
        # > 1: the output is log(mean of the members' probabilities): its softmax is the ensemble's
        "ensemble": len(model) if isinstance(model, Ensemble) else 1,
        "voxel": to_dict(cfg.voxel),
        "emulator": to_dict(cfg.emulator),
        "preprocessing": preprocessing(cfg, read_hparams(checkpoint)),
        "max_abs_logit_diff_vs_torch": max_diff,
    }
    write_json_atomic(out.with_name(out.name + ".json"), info)
    return info


def preprocessing(cfg, hparams: dict) -> dict:
    """Everything that turns an input into the model's input, as ``evfer predict`` does it: the frame
    path (face crop and margin, CK+ timecode mask, blur, frame size, the emulator's resolved
    parameters), the event path (face box rule and size), the representation (name and parameters,
    windows, size; planes rounded through float16 as the training cache stores them) and the default
    windows over time."""

    frames = input_source(cfg, "videos", FRAMES).options
    events = input_source(cfg, "recordings", EVENTS).options
    rep = representation_for(cfg.voxel)
    window = default_window(hparams.get("clips") if isinstance(hparams.get("clips"), dict) else None)
    return {
        "frames": {**{k: to_dict(getattr(frames, k)) for k in MODEL_INPUT_OPTIONS[FRAMES]},
                   "fps": "the input's own (image folders: 30)", "colour": "luma (ITU-R BT.601)",
                   "emulator": {"preset": cfg.emulator.preset, "seed": cfg.emulator.seed,
                                **clip_context(cfg).emulator.params.to_dict()}},
        "events": {"box": "density (the face box from event density; an evfer clip file: as cut)",
                   "box_size": events.box_size},
        "representation": {**rep.params(), "windows": cfg.voxel.windows, "size": list(cfg.voxel.size),
                           "channels": rep.channels, "float16": True},
        "timeline": None if window is None else {"window_s": window[0] / 1e6, "stride_s": window[1] / 1e6},
    }


def _check_onnx(path: Path, example: torch.Tensor, reference: torch.Tensor) -> float | None:
    """Max |difference| between onnxruntime and torch logits, or None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        import onnx

        onnx.checker.check_model(str(path))
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"voxels": example.numpy()})[0]
    return float(abs(torch.from_numpy(got) - reference).max())
