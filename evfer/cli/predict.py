"""classify recordings or videos of any length with a trained model: label, probabilities, timeline

FILE is an event recording (any format `evfer info` reads), a video or an image folder, made into
events on the fly as the model's training clips were (face crop, blur, frame size, emulator and
event representation come from the checkpoint; the input keeps its own frame rate). An input longer
than a window is cut into windows (--window, --stride; default: the training clips' duration and
half of it) and each window is classified: the face is tracked (frames: the face detector once per
stride; recordings: the event-density box per window), a window without a face is labelled no-face,
one without events no-events. --timeline writes a row per window. An input no longer than a window
is one clip, exactly as `prepare` makes a training clip.
"""

from __future__ import annotations

from ._args import add, duration, formats_epilog, positive_int

ORDER = 60


def arguments(p) -> None:
    p.epilog = formats_epilog()
    p.add_argument("checkpoint", help="a checkpoint (e.g. RUN_DIR/checkpoints/best.ckpt) or a run directory")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="event recordings, videos or image folders, each classified on its own")
    p.add_argument("--window", type=duration, metavar="DUR",
                   help="window length, e.g. 1s or 500ms (default: the training clips' median duration; an "
                        "input no longer than one window is one clip)")
    p.add_argument("--stride", type=duration, metavar="DUR", help="time between window starts (default: half the window)")
    p.add_argument("--smooth", type=positive_int, default=1, metavar="N",
                   help="average each window's probabilities with the previous N-1 classified windows' (causal; "
                        "default 1: none)")
    p.add_argument("--timeline", metavar="OUT.csv",
                   help="write one row per window: file, start_s, end_s, box, label, confidence, p_<class>..., flags")
    p.add_argument("--box", help="face box for event recordings: auto (event density), none (whole sensor) or "
                                 "x,y,w,h (sensor pixels); default: the source's rule")
    add(p, "tta-flip", "json")
    p.add_argument("--render", metavar="OUT", help="also write a video (.mp4 or .gif) per FILE: source frames, "
                   "events of each window with the face box, class probabilities and the label over time; "
                   "with several FILEs, OUT's name + '-' + each FILE's name (e.g. --render out.mp4 a.mp4 b.raw "
                   "-> out-a.mp4, out-b.mp4)")
    add(p, "quiet")


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from ..atomic import check_not_input
    from ..errors import EvferError, InputError
    from ..presentation.prediction_video import video_paths
    from ..training.checkpoints import find_checkpoint, load_checkpoint, read_hparams
    from ..training.predict import predict_input, render_file
    from ..training.timeline import training_clips, write_timeline_csv

    if args.stride is not None and args.window is None:
        raise InputError(None, "--stride needs --window")
    videos = video_paths(args.render, args.files) if args.render else [None] * len(args.files)
    for output in [v for v in videos if v is not None] + ([args.timeline] if args.timeline else []):
        check_not_input(output, [*args.files, args.checkpoint])
    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        ckpt = find_checkpoint(ckpt)
    model, classes, cfg = load_checkpoint(ckpt)
    stats = training_clips(read_hparams(ckpt))
    results, failed = [], []
    for f, video in zip(args.files, videos):
        try:
            options = dict(window_us=args.window, stride_us=args.stride, box=args.box, smooth=args.smooth,
                           tta_flip=args.tta_flip, stats=stats)
            if video is None:
                results.append(predict_input(model, classes, cfg, f, **options))
            else:
                results.append(render_file(model, classes, cfg, f, video, progress=not args.quiet, **options))
        except EvferError as exc:
            failed.append(str(exc))
            print(f"evfer: error: {exc}", file=sys.stderr)
    if args.timeline and results:
        from ..training.timeline import Row

        rows = [Row(file=r["file"], index=w["window"], start_s=w["start_s"], end_s=w["end_s"],
                    box=_box(w["box"]), label=w["label"], confidence=w["confidence"],
                    probabilities=w["probabilities"], events=w["events"], flags=w["flags"])
                for r in results for w in r["windows"]]
        write_timeline_csv(rows, classes, args.timeline)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print_result(r)
        if args.timeline and results:
            print(f"timeline: {args.timeline}")
    return 2 if failed else 0


def _box(value):
    from ..datasets.clips import Box

    return Box(*value) if value else None


def print_result(r: dict) -> None:
    probs = "  ".join(f"{c} {p:.2f}" for c, p in sorted((r["probabilities"] or {}).items(), key=lambda kv: -kv[1]))
    print(f"{r['file']}: {r['label']}   ({probs})")
    for w in r["warnings"]:
        print(f"  note: {w}")
    if r["mode"] == "windows":
        labels = [w["label"] for w in r["windows"]]
        runs, start = [], 0
        for i in range(1, len(labels) + 1):  # label runs: "happy 0-3.5s -> neutral 3.5-6s"
            if i == len(labels) or labels[i] != labels[start]:
                runs.append(f"{labels[start]} {r['windows'][start]['start_s']:.1f}-{r['windows'][i - 1]['end_s']:.1f}s")
                start = i
        print(f"  {len(labels)} windows of {r['window_s']:g} s every {r['stride_s']:g} s: " + " -> ".join(runs))
    else:
        steps = " -> ".join(s["label"] for s in r["timeline"])
        print(f"  one clip; timeline ({len(r['timeline'])} steps of the model): {steps}")
    if "render" in r:
        print(f"  video: {r['render']} ({r['render_frames']} frames)")
