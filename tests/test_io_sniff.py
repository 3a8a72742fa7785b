"""Files whose extension lies: the content is sniffed and the message says what the file holds
(see evfer.io.sniff); numpy's advice to load pickles unsafely never reaches the user."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from evfer.errors import InputError
from evfer.io import iter_events, probe, read_events, write_events
from evfer.testing import random_events


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    ev = random_events(500, 64, 48, seed=1)
    return {n: write_events(d / n, ev) for n in ("a.h5", "a.raw", "a2.raw", "a.dat", "a.aedat4", "a.npz")} | {
        "a2.raw": write_events(d / "a2.raw", ev, version="evt2")
    }


def _renamed(tmp_path, source, name):
    path = tmp_path / name
    path.write_bytes(source.read_bytes())
    return path


def _refused(path, message):
    for call in (read_events, probe, iter_events):
        with pytest.raises(InputError) as info:
            call(path)
        assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "source, name, holds, suffix",
    [
        ("a.h5", "x.dat", "an HDF5 file", ".h5"),
        ("a.raw", "x.dat", "a Prophesee EVT 3.0 recording", ".raw"),
        ("a2.raw", "x.npz", "a Prophesee EVT 2.0 recording", ".raw"),
        ("a.dat", "x.raw", "a Prophesee DAT recording", ".dat"),
        ("a.aedat4", "x.hdf5", "an AEDAT 4.0 recording", ".aedat4"),
        ("a.npz", "x.h5", "a zip archive (as .npz files are)", ".npz"),
        ("a.h5", "x.aedat4", "an HDF5 file", ".h5"),
    ],
)
def test_renamed_files_say_what_they_hold(tmp_path, written, source, name, holds, suffix):
    path = _renamed(tmp_path, written[source], name)
    _refused(path, f"has the extension {path.suffix} but holds {holds}; rename it to {suffix}")


@pytest.mark.shared_data
def test_renamed_shared_samples(tmp_path, shared):
    """The issue's case (an EVT 2.0 .raw renamed .npz) and the N-CARS .dat renamed .raw."""
    _refused(_renamed(tmp_path, shared("event-samples", "evt2_sample.raw"), "evt2.npz"),
             "has the extension .npz but holds a Prophesee EVT 2.0 recording; rename it to .raw")  # fmt: skip
    _refused(_renamed(tmp_path, shared("event-samples", "sample_ncars.dat"), "ncars.raw"),
             "has the extension .raw but holds a Prophesee DAT recording; rename it to .dat")  # fmt: skip


def test_formats_evfer_does_not_read(tmp_path):
    old = tmp_path / "jaer.dat"
    old.write_bytes(b"#!AER-DAT2.0\r\n# created by jAER\r\n" + bytes(64))
    _refused(old, "has the extension .dat but holds an AEDAT 2.0 recording (jAER / cAER): not an AEDAT 4.0 "
                  "file, the only AEDAT evfer reads")  # fmt: skip
    pickled = tmp_path / "p.npz"
    pickled.write_bytes(pickle.dumps({"t": [1, 2]}, protocol=4))
    _refused(pickled, "has the extension .npz but holds a Python pickle, which evfer never loads")


def test_npz_never_passes_on_numpys_pickle_advice(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    _refused(junk, "not an .npz archive: it does not start like a zip file (truncated or corrupt?)")
    objects = tmp_path / "objects.npz"
    np.savez(objects, t=np.array([1, "a", None], dtype=object), x=np.zeros(3), y=np.zeros(3), p=np.ones(3))
    _refused(objects, "cannot load an array of the .npz archive: it holds Python objects (pickled data), "
                      "which evfer never loads")  # fmt: skip
    other = tmp_path / "other.npz"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("t.npy", b"not an array")
        z.writestr("notes.txt", b"hello")
    _refused(other, "member(s) notes.txt, t of the archive are not NumPy arrays")


def test_content_that_matches_or_is_unknown_goes_to_the_reader(tmp_path, written):
    """v2e and store files share .h5; .hdf5 is fine; unknown content gets the reader's message."""
    assert len(read_events(_renamed(tmp_path, written["a.h5"], "same.hdf5"))) == 500
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x01\x02" * 50)
    with pytest.raises(InputError, match="junk.dat: (?!has the extension)"):
        read_events(junk)
