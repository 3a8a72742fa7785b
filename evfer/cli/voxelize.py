"""turn event files into voxel grids (one .npy/.npz/.h5 each, as the dataset cache makes them)

Voxelize event files (any format evfer reads) or folders of them (searched recursively, mirrored
into OUT) with the dataset cache's representation code. One output per file: float32 (T, C, H, W),
or (C, H, W) when T is 1, with its metadata (source, representation and bins, windows, size,
normalisation, time span, sensor size, event count; h5 attributes, npz arrays, or <name>.npy.json
beside the .npy). The span is the clip span an events file of `prepare` stores, else first to last
event. Outputs made with the same settings are skipped (resume), others recomputed; writes are
atomic.
"""

from __future__ import annotations

import sys

from ._args import WINDOW_HELP, add, formats_epilog, positive_int, size, window

ORDER = 16


def arguments(p) -> None:
    p.epilog = formats_epilog()
    from ..datasets.voxel_files import OUTPUT_FORMATS

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="event file or folder of event files")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument("--representation", default="voxel_grid", metavar="NAME",
                   help=f"one of {', '.join(representation_names())} (default voxel_grid: C = bins; histogram: "
                        "C = 2, ON and OFF counts; event_image: C = 3)")
    p.add_argument("--bins", type=positive_int, default=None, metavar="N",
                   help="voxel-grid time bins (default 10)")
    p.add_argument("--windows", type=positive_int, default=1, metavar="T",
                   help="T equal-duration windows of the span, each its own grid (default 1)")
    p.add_argument("--size", type=size, default=None, metavar="WxH",
                   help="resize the planes to W x H pixels (default: each file's sensor size)")
    p.add_argument("--normalize", default="rms", metavar="METHOD", help="rms (default), e2vid or none")
    p.add_argument("--resize", default="area", metavar="MODE",
                   help="area (default: area pooling) or events (coordinate scaling)")
    p.add_argument("--window", type=window, default=None, metavar="T0:T1",
                   help=WINDOW_HELP + "; default: the file's clip span, else first to last event")
    p.add_argument("--format", default="npy", choices=OUTPUT_FORMATS, help="output format (default npy)")
    add(p, "workers", "overwrite", "quiet", "sensor-size")


def representation_names() -> list[str]:
    """The registry's representation names (the voxel package is light to import)."""
    from ..voxel import REPRESENTATIONS

    return list(REPRESENTATIONS)


def build_representation(name: str, bins: int | None, normalize: str, resize: str):
    """The registry representation the options name; ConfigError, in the options' words, otherwise."""
    import inspect

    from ..errors import ConfigError
    from ..voxel import METHODS, REPRESENTATIONS, RESIZE_MODES, make_representation

    choices = (("--representation", name, REPRESENTATIONS), ("--normalize", normalize, METHODS),
               ("--resize", resize, RESIZE_MODES))
    for option, value, valid in choices:
        if value not in valid:
            raise ConfigError(f"{option} {value}: choose one of {', '.join(valid)}")
    params = {"normalize": normalize, "resize": resize}
    if bins is not None:
        if "bins" not in inspect.signature(REPRESENTATIONS[name]).parameters:
            raise ConfigError(f"--bins: the {name} representation has no time bins")
        params["bins"] = bins
    return make_representation(name, **params)


def summary_line(summary, out) -> str:
    """``voxelized 12 (1 with new settings), skipped 3 (already done), failed 1 of 16 -> OUT``."""
    why = list(summary.redone.values())
    notes = [f"{why.count('settings')} with new settings"] if "settings" in why else []
    notes += [f"{why.count('unreadable')} replacing unreadable outputs"] if "unreadable" in why else []
    redone = f" ({', '.join(notes)})" if notes else ""
    return (f"voxelized {len(summary.done)}{redone}, skipped {len(summary.skipped)} (already done), "
            f"failed {len(summary.failed)} of {summary.total} -> {out}")


def run(args) -> int:
    from ..datasets.voxelize import VoxelizeSettings, voxelize_inputs

    settings = VoxelizeSettings(
        build_representation(args.representation, args.bins, args.normalize, args.resize),
        windows=args.windows, size=args.size, window=tuple(args.window[:2]) if args.window else (None, None),
        sensor_size=args.sensor_size, format=args.format, window_relative=bool(args.window and args.window[2]),
    )
    summary = voxelize_inputs(args.inputs, args.out, settings, workers=args.workers, overwrite=args.overwrite,
                              progress=not args.quiet)
    for _, message in summary.failed:
        print(f"evfer: error: {message}", file=sys.stderr)
    print(summary_line(summary, args.out))
    return 2 if summary.failed else 0
