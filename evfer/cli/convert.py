"""emulate DVS events from videos or image folders (one HDF5 event file each)

Emulate DVS events from frame videos (read with OpenCV) or folders of frames (natural sort order)
with evfer's v2e-faithful pixel model. One output per source in the HDF5 event store: sources inside
the working directory keep their path below the sources' common folder (clips/S005/001 ->
OUT/S005/001.h5); others are OUT/<name>.h5 (-2, -3, ... for repeated names).
Finished outputs are skipped (resume); writes are atomic.
"""

from __future__ import annotations

import sys

from ._args import add

ORDER = 15


def arguments(p) -> None:
    p.add_argument("sources", nargs="+", metavar="SRC", help="video file or folder of frames")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="output folder (or an .h5 file name for a single source)")
    p.add_argument("--preset", default="clean", help="pixel-model preset: clean (default), noisy, v2e")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override one model parameter, e.g. --param cutoff_hz=100 --param timestamps=v2e "
                   "(repeatable; see evfer.emulator.EmulatorParams)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate: needed for folders (default 30, as CK+); overrides a video's own")
    p.add_argument("--crop", default=None, metavar="X,Y,W,H", help="crop box (pixels), applied before --size")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="resize frames (cv2.INTER_AREA) after cropping")
    p.add_argument("--seed", type=int, default=0, help="random seed (per clip: combined with its name)")
    add(p, "workers")
    p.add_argument("--shard", default="0/1", metavar="I/N", help="convert only shard I of N (cluster jobs)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda (default cpu)")
    add(p, "overwrite", "quiet")


def _ints(text: str, n: int, what: str, sep: str = ",") -> tuple[int, ...]:
    from ..errors import ConfigError

    try:
        values = tuple(int(v) for v in text.split(sep))
    except ValueError:
        values = ()
    if len(values) != n:
        raise ConfigError(f"{what}: cannot read {text!r}")
    return values


def run(args) -> int:
    from pathlib import Path

    from ..emulator.convert import convert_sources
    from ..emulator.frames import DEFAULT_FOLDER_FPS
    from ..emulator.params import EmulatorSettings, parse_assignments
    from ..errors import ConfigError

    crop = _ints(args.crop, 4, "--crop X,Y,W,H") if args.crop else None
    size = _ints(args.size.lower(), 2, "--size WxH", "x") if args.size else None
    if size is not None and min(size) <= 0:
        raise ConfigError(f"--size {args.size}: width and height must be positive")
    i, n = _ints(args.shard, 2, "--shard I/N", "/")
    if not 0 <= i < n:
        raise ConfigError(f"--shard {args.shard}: need 0 <= I < N")
    if args.workers < 1:
        raise ConfigError("--workers must be >= 1")
    settings = EmulatorSettings.resolve(args.preset, parse_assignments(args.param), args.seed, args.device)
    summary = convert_sources(
        args.sources, args.out, settings, fps=args.fps, crop=crop, size=size, workers=args.workers,
        shard=(i, n), overwrite=args.overwrite, progress=not args.quiet,
    )
    for src, message in summary.failed:
        print(f"evfer: error: {message}", file=sys.stderr)
    for dst, why in summary.redone.items():
        print(f"evfer: note: {dst} was damaged ({why}); made again", file=sys.stderr)
    print(f"converted {len(summary.done)}, skipped {len(summary.skipped)} (already done), "
          f"failed {len(summary.failed)} of {summary.total} -> {args.out}")
    if args.fps is None and any(Path(s).is_dir() for s in args.sources):
        print(f"note: image folders were read at {DEFAULT_FOLDER_FPS:g} frames/s (the default; set --fps)")
    return 2 if summary.failed else 0
