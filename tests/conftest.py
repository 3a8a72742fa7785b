"""Shared test set-up: the shared real data, the one tiny run config, and damaged-file makers.

- ``shared_path(...)`` / the ``shared`` fixture: a file under ``../shared/data`` or a clean skip.
- ``tiny_config_path(folder, *overrides)`` / the ``tiny_config`` fixture: the smallest config that
  runs every stage (6 synthetic identities x 6 classes, 48x48 frames, 2 windows of 4-bin 32x32
  voxel grids, ResNet-18 + LSTM(32), 2 epochs) — the config of the prepare, train and CLI tests.
- ``damaged(data, path, ...)``: a copy of a file's bytes cut, flipped or extended, and
  ``flip_in_chunk(path, dataset, chunk)``: one stored HDF5 chunk damaged in place, for the
  bad-input tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EVFER_SHARED_DATA", ROOT.parent / "shared" / "data"))
WEIGHTS = Path(os.environ.get("EVFER_SHARED_WEIGHTS", ROOT.parent / "shared" / "weights"))

SIX = ["happy", "sad", "angry", "confused", "shocked", "neutral"]


def shared_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def shared():
    return shared_path


# ---------------------------------------------------------------------------------- the tiny run
TINY = """seed: 3
data:
  sources:
    - {{kind: synthetic, root: {folder}/synth, identities: {identities}, seed: 1, frames: [6, 8],
        synth_size: [96, 96], frame_size: [48, 48], blur_sigma: 0}}
  out: {folder}/data
  workers: 1
  split: {{fractions: [0.5, 0.25, 0.25]}}
emulator: {{params: {{pos_thres: 0.1, neg_thres: 0.1}}}}
voxel: {{bins: 4, windows: 2, size: [32, 32]}}
model: {{backbone: resnet18, hidden: 32}}
train: {{epochs: 2, batch_size: 8, lr: 0.001, num_workers: 0}}
"""


def tiny_config_path(folder: Path, *overrides: str, identities: int = 6, name: str = "tiny.yaml",
                     extra: str = "") -> Path:
    """Write the tiny config into ``folder`` (its data under ``folder``); ``overrides`` are
    ``key=value`` items applied on top, ``extra`` YAML text appended. Returns the file."""
    from evfer.config import apply_override

    import yaml

    raw = yaml.safe_load(TINY.format(folder=folder, identities=identities) + extra)
    for item in overrides:
        apply_override(raw, item)
    path = Path(folder) / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def tiny_config(tmp_path):
    """``tiny_config(*overrides, **kw)`` -> the loaded tiny config with its data under ``tmp_path``."""
    from evfer.configure import load_config

    def make(*overrides: str, folder: Path | None = None, **kw):
        return load_config(tiny_config_path(folder or tmp_path, *overrides, **kw))

    return make


# ---------------------------------------------------------------------------------- damaged files
def damaged(data: bytes | Path, path: Path, *, cut: int | None = None, flip: int | None = None,
            append: bytes = b"") -> Path:
    """Write ``data`` (bytes, or a file's bytes) to ``path`` damaged: cut to its first ``cut`` bytes
    (negative: drop the last ``-cut``), byte ``flip`` inverted, ``append`` added at the end."""
    data = Path(data).read_bytes() if isinstance(data, Path) else bytes(data)
    if cut is not None:
        data = data[:cut]
    if flip is not None:
        data = data[:flip] + bytes([data[flip] ^ 0xFF]) + data[flip + 1 :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data + append)
    return path


def flip_in_chunk(path: Path, dataset: str, chunk: int = 1) -> tuple[int, int]:
    """Damage the middle of one stored (compressed) chunk of HDF5 ``dataset`` in place (16 bytes XOR
    0x5A); returns the chunk's row range [first, end)."""
    import h5py

    with h5py.File(path) as f:
        info = f[dataset].id.get_chunk_info(chunk)
        rows = f[dataset].chunks[0]
    data = bytearray(Path(path).read_bytes())
    at = info.byte_offset + info.size // 2
    data[at : at + 16] = bytes(b ^ 0x5A for b in data[at : at + 16])
    Path(path).write_bytes(bytes(data))
    return info.chunk_offset[0], info.chunk_offset[0] + rows


def dead_pid() -> int:
    """The pid of a process that has exited (for temporaries "left by a killed run")."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
