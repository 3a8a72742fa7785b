"""A full disk: every output fails in one line naming it, leaves no temporary and no truncated file,
and the process does not crash (HDF5 used to take it down with a segmentation fault at exit).

Where the test may mount a 1 MB tmpfs (root on Linux) the disk is really full; everywhere the
writers are also driven into ENOSPC by a patched write."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path
from evfer.cli import main
from evfer.errors import OutputError
from evfer.io import write_events
from evfer.io.h5write import NeverFailingFile
from evfer.testing import random_events


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs in tmp_path (skip where mounting is not allowed)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the patched-write tests cover the writers")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _evfer(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evfer", *map(str, args)], capture_output=True, text=True, timeout=300)


def _litter(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".tmp-") or p.suffix in (".h5", ".ckpt"))


def test_convert_and_voxelize_into_a_full_disk_fail_in_one_line(full_disk, tmp_path):
    video = shared_path("videos", "single_face.mp4")
    done = _evfer("convert", video, "-o", full_disk / "conv", "--quiet")
    assert done.returncode == 2, (done.returncode, done.stderr)  # not 139 (segmentation fault)
    errors = [line for line in done.stderr.splitlines() if line]
    assert errors == [f"evfer: error: {full_disk / 'conv' / 'single_face.h5'}: cannot write here "
                      "(No space left on device)"]
    assert _litter(full_disk) == []
    big = write_events(tmp_path / "big.h5", random_events(400_000, 640, 480, seed=1))
    done = _evfer("voxelize", big, "-o", full_disk / "vox", "--format", "h5", "--size", "640x480", "--windows", "4",
                  "--quiet")
    assert done.returncode == 2 and "big.h5: cannot write here (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr and _litter(full_disk) == []


def test_hdf5_never_sees_a_failed_write_and_the_process_survives(tmp_path):
    """The writer behind every HDF5 output, driven into ENOSPC after 64 kB, in a child process that
    must exit normally (HDF5 crashed at exit when it had seen the failure)."""
    code = f"""
import errno, os, sys
import numpy as np
from evfer.io import h5write
from evfer.errors import OutputError
real = h5write.NeverFailingFile.write
def write(self, data):
    if self.memory is None and self.pos + len(data) > 65536:
        self._to_memory(OSError(errno.ENOSPC, "No space left on device"))
    return real(self, data)
h5write.NeverFailingFile.write = write
try:
    with h5write.hdf5_for_writing({str(tmp_path / 'x.h5')!r}, "out.h5", roomy=2**62) as f:
        f.create_dataset("t", data=np.random.default_rng(0).integers(0, 2**31, 500_000), chunks=(65536,),
                         compression="gzip")
except OutputError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "out.h5: cannot write here (No space left on device)"


def test_never_failing_file_keeps_a_consistent_file_after_the_failure(tmp_path):
    f = NeverFailingFile(tmp_path / "a.bin")
    f.write(b"abcdef")
    f._to_memory(OSError(errno.ENOSPC, "No space left on device"))
    f.seek(2)
    f.write(b"XY")
    f.seek(0)
    buf = bytearray(8)
    assert f.readinto(buf) == 6 and bytes(buf[:6]) == b"abXYef" and f.error.errno == errno.ENOSPC
    f.close()


def test_an_output_write_that_fails_names_the_output_not_the_temporary(tmp_path, monkeypatch):
    """Any writer (event store, voxel file, JSON, report): an ENOSPC inside the atomic writer is one
    OutputError naming the output, and the temporary is gone."""
    from evfer.atomic import write_json_atomic

    real_write = Path.write_text

    def full(self, *a, **k):
        if self.name.startswith(".tmp-"):
            real_write(self, "half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputError, match=r"metrics.json: cannot write here \(No space left on device\)"):
        write_json_atomic(tmp_path / "metrics.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_train_into_a_full_disk_leaves_no_truncated_checkpoint(full_disk, tmp_path):
    from conftest import tiny_config_path

    cfg = tiny_config_path(tmp_path, "train.epochs=1")
    assert main(["prepare", str(cfg), "--quiet"]) == 0
    done = _evfer("train", cfg, "-o", full_disk / "run", "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("evfer: error:")]
    assert len(line) == 1 and ".ckpt: cannot write the checkpoint (No space left on device" in line[0]
    assert not list(full_disk.rglob("*.ckpt")) and not list(full_disk.rglob(".tmp-*"))

