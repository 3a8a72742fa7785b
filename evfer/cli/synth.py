"""generate synthetic face videos (six expressions) in the CK+ folder layout

Render random synthetic identities, each going from a neutral first frame to the peak of every
expression (happy, sad, angry, confused, shocked, neutral) with random timing, intensity, blinks,
head motion and sensor noise. Output follows CK+: DIR/cohn-kanade-images/S###/###/*.png and
DIR/Emotion/S###/###/*_emotion.txt (codes: happy 5, sad 6, angry 1, confused 2 = contempt, shocked
7, neutral 0), so `kind: ckplus` or `kind: synthetic` sources read it. Deterministic for a seed; re-
running skips complete sequences.
"""

from __future__ import annotations

import argparse

from ._args import add, size

ORDER = 30

from ..datasets.labels import SIX as _CLASSES  # the synthetic classes (a light import: --help stays fast)


def _frames(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        lo_i, hi_i = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a range like 12-24, got {text!r}") from None
    if not 2 <= lo_i <= hi_i:
        raise argparse.ArgumentTypeError(f"need 2 <= min <= max, got {text!r}")
    return lo_i, hi_i


def _classes(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in _CLASSES]
    if bad or not names:
        name = bad[0] if bad else "(none)"
        raise argparse.ArgumentTypeError(f"unknown class {name!r} (valid: {','.join(_CLASSES)})")
    return names


def arguments(p) -> None:
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--identities", type=int, default=24, metavar="N",
                   help="number of identities (1-999, default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--frames", type=_frames, default=(12, 24), metavar="F|MIN-MAX",
                   help="frames per sequence: a count or a range drawn per sequence (default 12-24)")
    p.add_argument("--size", type=size, default=(160, 160), metavar="WxH",
                   help="frame size in pixels (default 160x160)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate the motion is timed for (default 30)")
    p.add_argument("--classes", type=_classes, default=list(_CLASSES), metavar="A,B,...",
                   help=f"comma-separated subset of {','.join(_CLASSES)} (default: all)")
    p.add_argument("--timecode", action="store_true",
                   help="burn a CK+-like running timecode (white digits, lower-left) into every frame")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="processes (default: all cores)")
    add(p, "quiet")


def run(args) -> int:
    from ..datasets.synthetic import synthesize

    s = synthesize(args.out, args.identities, args.seed, classes=args.classes, frames=args.frames,
                   size=args.size, fps=args.fps, timecode=args.timecode, workers=args.workers,
                   progress=not args.quiet)
    print(f"{s.out_dir}: {s.written} sequences written ({s.frames_written} frames), "
          f"{s.skipped} already complete, {s.seconds:.1f} s")
    return 0
