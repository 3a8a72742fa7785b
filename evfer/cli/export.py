"""export a trained model to ONNX (.onnx) or TorchScript (.pt) for deployment

Writes the model and a sidecar JSON (classes, voxel and emulator settings); the export is checked
against the PyTorch model before it is kept.
"""

from __future__ import annotations

ORDER = 65


def arguments(p) -> None:
    p.add_argument("checkpoint", help="a checkpoint or a run directory")
    p.add_argument("-o", "--output", required=True, help="model.onnx or model.pt")


def run(args) -> int:
    from pathlib import Path

    from ..atomic import check_not_input
    from ..training.checkpoints import find_checkpoint
    from ..training.export import export_model

    check_not_input(args.output, [args.checkpoint])
    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        ckpt = find_checkpoint(ckpt)
    info = export_model(ckpt, args.output)
    diff = info["max_abs_logit_diff_vs_torch"]
    check = f"max |logit diff| vs PyTorch {diff:.1e}" if diff is not None else "checked with onnx.checker"
    print(f"wrote {args.output} ({info['format']}, input {info['input']['shape']}, {check})")
    print(f"settings: {args.output}.json")
    return 0
