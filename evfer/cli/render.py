"""draw an event frame and a voxel-grid montage (PNG), optionally an animated GIF

Draw the events of FILE in a time window: an ON/OFF event frame (ON red, OFF blue) and the window's
voxel grid, one panel per time bin, in one PNG; --gif also writes an animation of event frames over
the window.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ._args import WINDOW_HELP, add, formats_epilog, parse_window, positive_float, positive_int

ORDER = 20



def arguments(p) -> None:
    p.epilog = formats_epilog()
    p.add_argument("file", help="event file (any format `evfer info` reads)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="image to write (.png; also .pdf, .svg, .jpg)")
    p.add_argument("--window", metavar="T0:T1", default=None, help=WINDOW_HELP + "; default: the whole file")
    p.add_argument("--bins", type=positive_int, default=10, help="voxel-grid time bins (default 10)")
    p.add_argument("--gif", action="store_true", help="also write an animated GIF of event frames (OUT.gif)")
    p.add_argument("--frames", type=positive_int, default=40, help="GIF frames over the window (default 40)")
    p.add_argument("--fps", type=positive_float, default=10.0, help="GIF frames per second (default 10)")
    add(p, "sensor-size")


def run(args) -> int:
    import logging

    from ..io import read_events
    from ..presentation.drawing import render_gif, render_summary

    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    from ..datasets.voxelize import absolute_window
    from ..presentation.drawing import SUMMARY_FORMATS

    try:
        window = parse_window(args.window) if args.window else (None, None, False)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None
    t0, t1 = absolute_window(args.file, window, args.sensor_size)
    suffix = Path(args.output).suffix.lower().lstrip(".")
    if suffix not in SUMMARY_FORMATS:
        raise InputError(args.output, f"unsupported image type; use .{', .'.join(SUMMARY_FORMATS)}")
    events = read_events(
        args.file, t_start=t0, t_end=None if t1 is None else t1 + 1, sensor_size=args.sensor_size
    )
    if len(events) == 0:
        where = f"in window {args.window} (times on the file's clock)" if args.window else "in the file"
        raise InputError(args.file, f"no events {where}; nothing to render")
    name = Path(args.file).name
    size = render_summary(events, args.output, bins=args.bins, t_start=t0, t_end=t1, title=name)
    print(f"wrote {args.output} ({size[0]}x{size[1]} px, {len(events):,} events)")
    if args.gif:
        gif = Path(args.output).with_suffix(".gif")
        frames = render_gif(events, gif, frames=args.frames, fps=args.fps, t_start=t0, t_end=t1, title=name)
        print(f"wrote {gif} ({frames} frames at {args.fps:g} fps)")
    return 0
