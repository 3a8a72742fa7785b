"""The files ``evfer voxelize`` writes: float32 planes (T, C, H, W) or (C, H, W), plus metadata.

* ``.npy``: the array (``np.load``); metadata in the sidecar ``<name>.npy.json``.
* ``.npz``: array ``voxels`` and one array per metadata field (``str(z["source"])``,
  ``z["size"].tolist()``), compressed, loadable without pickle.
* ``.h5``: dataset ``voxels`` (gzip level 1 with shuffle), metadata as its attributes.

Metadata values are strings, integers and lists of integers. Writes are atomic; the ``.npy``
sidecar is removed before the array is replaced and written after it, so an array never stands
beside the metadata of another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json_atomic
from ..errors import InputError
from ..io.h5write import hdf5_for_writing

OUTPUT_FORMATS = ("npy", "npz", "h5")
#: where the planes are stored in .npz and .h5 outputs
ARRAY_NAME = "voxels"


def sidecar(path: Path) -> Path:
    """The metadata file of a ``.npy`` output: ``<name>.npy.json``."""
    return path.with_name(path.name + ".json")


def write_output(path: Path, planes: np.ndarray, meta: dict[str, Any]) -> None:
    """Write ``planes`` and ``meta`` to ``path`` in the format its suffix names; an unwritable path
    is an :class:`InputError` naming it."""
    kind = path.suffix.lower().lstrip(".")
    try:
        if kind == "npy":
            sidecar(path).unlink(missing_ok=True)
            with atomic_path(path) as tmp:
                np.save(tmp, planes)
            write_json_atomic(sidecar(path), meta)
        elif kind == "npz":
            with atomic_path(path) as tmp:
                fields = {k: np.asarray(v) for k, v in meta.items()}
                np.savez_compressed(tmp, **{ARRAY_NAME: planes}, **fields)
        elif kind == "h5":
            with atomic_path(path) as tmp, hdf5_for_writing(tmp, path) as f:
                data = f.create_dataset(ARRAY_NAME, data=planes, compression="gzip", compression_opts=1,
                                        shuffle=True)
                data.attrs.update(meta)
        else:
            raise InputError(path, f"unknown output type; use .{', .'.join(OUTPUT_FORMATS)}")
    except OSError as exc:
        raise InputError(path, f"cannot write the output: {why_unwritable(path, exc)}") from None


def why_unwritable(path: Path, exc: OSError) -> str:
    """A one-line reason: a file where a folder is needed, a folder where the file goes, or the
    system's message."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    if path.is_dir():
        return "a folder of that name exists"
    return exc.strerror or str(exc)


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata stored with an output (plain Python values). Raises (OSError, ValueError, ...)
    when the output is unreadable: a damaged array, a missing or damaged sidecar."""
    kind = path.suffix.lower().lstrip(".")
    if kind == "npy":
        np.load(path, mmap_mode="r")  # checks the header and that the file holds the whole array
        return json.loads(sidecar(path).read_text())
    if kind == "npz":
        with np.load(path) as z:  # a cut archive fails here (its directory is at the end)
            if ARRAY_NAME not in z.files:
                raise KeyError(f"{path}: no array {ARRAY_NAME!r}")
            return {k: plain(z[k]) for k in z.files if k != ARRAY_NAME}
    if kind == "h5":
        import h5py

        with h5py.File(path, "r") as f:
            return {k: plain(v) for k, v in f[ARRAY_NAME].attrs.items()}
    raise ValueError(f"{path}: not a voxelize output type")


def is_voxel_output(path: Path) -> bool:
    """True if ``path`` (.npz, .h5) is a voxelize output, not an event file."""
    if path.suffix.lower() not in (".npz", ".h5"):
        return False
    try:
        if path.suffix.lower() == ".npz":
            import zipfile

            with zipfile.ZipFile(path) as z:
                return f"{ARRAY_NAME}.npy" in z.namelist()
        import h5py

        with h5py.File(path, "r") as f:
            return ARRAY_NAME in f and "fingerprint" in f[ARRAY_NAME].attrs
    except Exception:  # unreadable: let the event reader report it
        return False


def plain(value: Any) -> Any:
    """A numpy value as plain Python (0-d -> scalar or str, arrays -> lists)."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
