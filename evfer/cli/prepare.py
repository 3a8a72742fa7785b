"""evfer prepare CONFIG [key=value ...]"""

from __future__ import annotations

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="dataset folders -> events, manifest, leak-free split, balancing, voxel cache",
        description="Prepare a training-ready dataset from a YAML config (data.sources, data.label_set, "
        "data.split, data.balance, voxel.*). Resumable: finished clips are not recomputed; the voxel cache "
        "is rebuilt only when its parameters change.",
    )
    p.add_argument("config", help="YAML config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. voxel.bins=5")
    p.add_argument("--no-voxels", action="store_true", help="stop after the manifest (no voxel cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import load_config
    from ..datasets.prepare import prepare

    cfg = load_config(args.config, args.overrides)
    result = prepare(cfg, build_voxels=not args.no_voxels, progress=not args.quiet)
    print((result.out / "summary.txt").read_text(), end="")
    print(f"\nmanifest: {result.out / 'manifest.csv'}")
    if result.voxel_dir is not None:
        print(f"voxel cache: {result.voxel_dir}")
    return 0
