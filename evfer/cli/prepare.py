"""dataset folders -> events, manifest, leak-free split, balancing, voxel cache

Prepare a training-ready dataset from a YAML config (data.sources, data.label_set, data.split,
data.balance, voxel.*). Resumable: finished clips are not recomputed; the voxel cache is rebuilt
only when its parameters change.
"""

from __future__ import annotations

from ._args import add, load_run_config

ORDER = 40


def arguments(p) -> None:
    add(p, "config", "overrides")
    p.add_argument("--no-voxels", action="store_true", help="stop after the manifest (no voxel cache)")
    add(p, "quiet")


def run(args) -> int:
    from ..datasets.prepare import prepare

    cfg = load_run_config(args)
    result = prepare(cfg, build_voxels=not args.no_voxels, progress=not args.quiet)
    print((result.out / "summary.txt").read_text(), end="")
    print(f"\nmanifest: {result.out / 'manifest.csv'}")
    if result.voxel_dir is not None:
        print(f"voxel cache: {result.voxel_dir}")
    return 0
