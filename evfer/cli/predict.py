"""classify event recordings or videos with a trained checkpoint (label, probabilities, timeline)

FILE is an event recording (any format `evfer info` reads) or a video / image folder, made into a clip
on the fly with the emulator and preprocessing settings stored in the checkpoint.
"""

from __future__ import annotations

from ._args import add, formats_epilog

ORDER = 60


def arguments(p) -> None:
    p.epilog = formats_epilog()
    p.add_argument("checkpoint", help="a checkpoint (e.g. RUN_DIR/checkpoints/best.ckpt) or a run directory")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="event recordings, videos or image folders, each classified on its own")
    p.add_argument("--box", help="face box for event recordings: auto, none or x,y,w,h (sensor pixels)")
    add(p, "tta-flip", "json")
    p.add_argument("--render", metavar="OUT", help="also write a video (.mp4 or .gif) per FILE: source frames, "
                   "events of each window with the face box, class probabilities and the label over time; "
                   "with several FILEs, OUT's name + '-' + each FILE's name (e.g. --render out.mp4 a.mp4 b.raw "
                   "-> out-a.mp4, out-b.mp4)")
    add(p, "quiet")


def run(args) -> int:
    import json
    from pathlib import Path

    from ..errors import EvferError
    from ..presentation.prediction_video import video_paths
    from ..training.checkpoints import find_checkpoint, load_checkpoint
    from ..training.predict import predict_file, render_file

    videos = video_paths(args.render, args.files) if args.render else [None] * len(args.files)
    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        ckpt = find_checkpoint(ckpt)
    model, classes, cfg = load_checkpoint(ckpt)
    if args.tta_flip is not None:
        cfg.train.tta_flip = args.tta_flip
    results, failed = [], 0
    for f, video in zip(args.files, videos):
        try:
            if video is None:
                results.append(predict_file(model, classes, cfg, f, box=args.box))
            else:
                results.append(render_file(model, classes, cfg, f, video, box=args.box, progress=not args.quiet))
        except EvferError as exc:
            failed += 1
            results.append({"file": f, "error": str(exc)})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['file']}: error: {r['error']}")
                continue
            probs = "  ".join(f"{c} {p:.2f}" for c, p in sorted(r["probabilities"].items(), key=lambda kv: -kv[1]))
            print(f"{r['file']}: {r['label']}   ({probs})")
            steps = " -> ".join(s["label"] for s in r["timeline"])
            print(f"  timeline ({len(r['timeline'])} windows): {steps}")
            if "render" in r:
                print(f"  video: {r['render']} ({r['render_frames']} frames)")
    return 1 if failed == len(results) else 0
