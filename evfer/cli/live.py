"""recognise expressions on a live stream: a camera, an event camera, or a file replayed at its pace

SOURCE is a camera index (0, 1, ...: OpenCV capture -> the model's emulator), `dv` (an iniVation
event camera through dv-processing) or `metavision` (a Prophesee camera through the Metavision SDK)
— both optional packages the user installs — or, with --replay, a video or a recording fed at its
real pace. Each window is classified as soon as it ends (the same windows and preprocessing as
`evfer predict`); a line per window gives its label and its latency (from the window's end to its
label). When the classifier cannot keep up, input is dropped (at most --max-backlog seconds wait)
and the windows restart after the gap; the summary says so. Ctrl-C stops cleanly.
"""

from __future__ import annotations

from ._args import add, duration, positive_float, positive_int

ORDER = 61



def arguments(p) -> None:
    p.add_argument("checkpoint", help="a checkpoint (e.g. RUN_DIR/checkpoints/best.ckpt) or a run directory")
    p.add_argument("source", nargs="?", metavar="SOURCE",
                   help="camera index (0, 1, ...), dv (dv-processing) or metavision (Metavision SDK)")
    p.add_argument("--replay", metavar="FILE", help="feed a video, image folder or recording at its real pace instead")
    p.add_argument("--speed", type=positive_float, default=1.0, help="replay speed (default 1: real time)")
    p.add_argument("--window", type=duration, metavar="DUR",
                   help="window length (default: the training clips' median duration, else 1s)")
    p.add_argument("--stride", type=duration, metavar="DUR", help="time between window starts (default: half the window)")
    p.add_argument("--smooth", type=positive_int, default=1, metavar="N",
                   help="average each window's probabilities with the previous N-1 windows' (default 1: none)")
    p.add_argument("--box", help="event inputs: auto (event density, the default), none or x,y,w,h (sensor pixels)")
    p.add_argument("--max-backlog", type=positive_float, default=2.0, metavar="S",
                   help="seconds of input allowed to wait for the classifier before the oldest is dropped (default 2)")
    p.add_argument("--timeline", metavar="OUT.csv", help="write one row per window (as evfer predict --timeline)")
    p.add_argument("--render", metavar="OUT.mp4", help="write a video: each window's events, label and probabilities")
    add(p, "quiet")


def run(args) -> int:
    from pathlib import Path

    from ..atomic import check_not_input
    from ..datasets.clips import parse_box
    from ..errors import EvferError, InputError
    from ..training.checkpoints import find_checkpoint, load_checkpoint, read_hparams
    from ..training.live import camera_chunks, event_camera_chunks, replay_chunks, run_live
    from ..training.timeline import (
        Predictor,
        default_window,
        model_warnings,
        training_clips,
        write_timeline_csv,
    )

    if (args.source is None) == (args.replay is None):
        raise EvferError("give a SOURCE (camera index, dv or metavision) or --replay FILE, not both")
    if args.stride is not None and args.window is None:
        raise InputError(None, "--stride needs --window")
    for output in (args.render, args.timeline):
        if output:
            check_not_input(output, [args.checkpoint, *([args.replay] if args.replay else [])])
    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        ckpt = find_checkpoint(ckpt)
    model, classes, cfg = load_checkpoint(ckpt)
    stats = training_clips(read_hparams(ckpt))
    window, stride = (args.window, args.stride) if args.window else (default_window(stats) or (1_000_000, 500_000))
    stride = stride or window // 2
    box = None
    if args.box and args.box not in ("auto", "none"):
        try:
            box = parse_box(args.box)
        except ValueError:
            raise InputError(None, f"--box must be auto, none or x,y,w,h (got {args.box!r})") from None
    elif args.box == "none":
        box = "none"
    if args.replay:
        kind_of_input, chunks = replay_chunks(cfg, args.replay, speed=args.speed)
        name = args.replay
    elif args.source.isdigit():
        kind_of_input, chunks = camera_chunks(int(args.source))
        name = f"camera {args.source}"
    else:
        kind_of_input, chunks = event_camera_chunks(args.source)
        name = args.source
    for note in model_warnings(cfg):
        print(f"note: {note}")
    print(f"{name}: windows of {window / 1e6:g} s every {stride / 1e6:g} s (Ctrl-C stops)", flush=True)
    writer = LiveVideo(args.render, classes, stride) if args.render else None

    def on_row(row, w, latency):
        probs = f"{row.confidence:.2f}" if row.confidence is not None else ""
        flags = f"  [{', '.join(row.flags)}]" if row.flags else ""
        if not args.quiet:
            print(f"  {row.start_s:7.2f}-{row.end_s:7.2f} s  {row.label:<10} {probs:>5}   latency "
                  f"{latency * 1000:5.0f} ms{flags}", flush=True)
        if writer:
            writer.add(row, w)

    predictor = Predictor(model, classes, cfg, stats=stats, smooth=args.smooth, batch_size=1)
    try:
        summary = run_live(predictor, cfg, kind_of_input, chunks, window_us=window, stride_us=stride, name=name,
                           box=box, on_row=on_row, max_backlog_s=args.max_backlog)
    finally:
        if writer:
            writer.close()
    print(summary.text())
    if args.timeline and summary.rows:
        write_timeline_csv(summary.rows, classes, args.timeline)
        print(f"timeline: {args.timeline}")
    if summary.interrupted:
        raise KeyboardInterrupt
    return 0


class LiveVideo:
    """A video of the live windows (one frame per window at 1 / stride fps), drawn with OpenCV."""

    def __init__(self, out: str, classes: list[str], stride_us: int):
        from ..presentation.live_view import LiveWriter

        self.writer = LiveWriter(out, classes, fps=1e6 / stride_us)

    def add(self, row, window) -> None:
        self.writer.add(row, window.events)

    def close(self) -> None:
        self.writer.close()
