"""No orphans, no litter, outputs named in their errors: killed runs, stale temporaries, bad output
paths, damaged outputs, a read-only numba cache, file names matplotlib cannot draw."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from evfer.atomic import atomic_path, remove_stale_temporaries
from evfer.cli import main
from evfer.errors import OutputError

from conftest import damaged, dead_pid, tiny_config_path

pytestmark = pytest.mark.xdist_group("reliability")


# ---------------------------------------------------------------------------------- temporaries
def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    stale_file = tmp_path / f".tmp-clip~{dead}~abc.h5"
    stale_dir = tmp_path / f".tmp-voxels~{dead}~build"
    live = tmp_path / f".tmp-clip~{alive}~def.h5"
    unrelated = tmp_path / ".tmp-other-name.h5"  # not ours (no pid): left alone
    for f in (stale_file, live, unrelated):
        f.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "voxels.npy").write_bytes(b"y")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_dir])
    assert live.exists() and unrelated.exists() and not stale_dir.exists()


def test_atomic_outputs_name_the_output_when_they_cannot_be_written(tmp_path):
    with pytest.raises(OutputError, match=r"^/proc/x\.png: cannot write here"):
        with atomic_path("/proc/x.png"):
            pass
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match=r"dir\.png: is a folder"):
        with atomic_path(tmp_path / "dir.png") as tmp:
            tmp.write_bytes(b"x")
    with pytest.raises(OutputError, match=r"the folder .*a/b does not exist"):
        with atomic_path(tmp_path / "a" / "b" / "c.png", make_folder=False):
            pass
    assert not (tmp_path / "a").exists() and [p.name for p in tmp_path.iterdir()] == ["dir.png"]


def frames_folder(path: Path, n: int = 6) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(path / f"f{i}.png"), rng.integers(0, 255, (24, 32), dtype=np.uint8))
    return path


def test_convert_output_problems_are_one_line_naming_the_output(tmp_path, capfd):
    src = frames_folder(tmp_path / "seq")
    (tmp_path / "taken").write_text("a file where the output folder should go")
    assert main(["convert", str(src), str(frames_folder(tmp_path / "seq2")), "-o", str(tmp_path / "taken"),
                 "--quiet"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"evfer: error: {tmp_path / 'taken'}: exists and is not a folder; give an output folder "
                   "(or one .h5 file name for a single source)"]


def test_convert_remakes_a_damaged_output_and_removes_stale_temporaries(tmp_path, capfd):
    src = frames_folder(tmp_path / "seq")
    out = tmp_path / "out"
    assert main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    good = (out / "seq.h5").read_bytes()
    damaged(good, out / "seq.h5", cut=len(good) // 2)
    stale = out / f".tmp-seq~{dead_pid()}~xyz.h5"
    stale.write_bytes(b"half")
    capfd.readouterr()
    assert main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    captured = capfd.readouterr()
    assert "converted 1, skipped 0" in captured.out and "was damaged" in captured.err
    assert (out / "seq.h5").read_bytes() == good and not stale.exists()


def test_render_output_problems(tmp_path, capfd):
    from evfer.io import write_events
    from evfer.testing import random_events

    ev = write_events(tmp_path / "日本語.h5", random_events(500, 32, 24))
    assert main(["render", str(ev), "-o", str(tmp_path / "a" / "b" / "c.png")]) == 2
    assert main(["render", str(ev), "-o", "/proc/x.png"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"evfer: error: {tmp_path / 'a' / 'b' / 'c.png'}: the folder {tmp_path / 'a' / 'b'} does not exist",
                   "evfer: error: /proc/x.png: cannot write here (No such file or directory)"]
    assert not (tmp_path / "a").exists()
    assert main(["render", str(ev), "-o", str(tmp_path / "cjk.png")]) == 0  # CJK file name in the title
    assert capfd.readouterr().err == ""  # no glyph warnings


# ---------------------------------------------------------------------------------- killed runs
def _children(pid: int) -> set[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return kids


def _cmdline(pid: int) -> str:
    """A process's command line, or "" once it has exited (a child may end between listing and reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkilled_prepare_leaves_no_worker_and_the_next_run_cleans_up(tmp_path):
    """SIGKILL `evfer prepare` while its two workers emulate: no process of the run survives, and
    the next run removes what the killed one was writing and finishes the dataset."""
    cfg = tiny_config_path(tmp_path, "data.workers=2", "data.sources.0.frame_size=[96, 96]", identities=4)
    cmd = [sys.executable, "-c", "import sys; from evfer.cli import main; sys.exit(main(sys.argv[1:]))",
           "prepare", str(cfg), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        workers |= {k for k in _children(proc.pid) if "spawn_main" in _cmdline(k)}
        if len(workers) >= 2 and list((tmp_path / "data" / "events").rglob("*.h5")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "prepare finished before it could be killed"
    assert len(workers) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]
    # what a killed run leaves: temporaries of dead processes (made here, in case the kill fell between writes)
    events = tmp_path / "data" / "events" / "synthetic"
    events.mkdir(parents=True, exist_ok=True)
    (events / f".tmp-synthetic-S001_001~{proc.pid}~abc.h5").write_bytes(b"half")
    voxels = tmp_path / "data" / "voxels"
    voxels.mkdir(parents=True, exist_ok=True)
    (voxels / f".tmp-voxel_grid-bins4~{proc.pid}~build").mkdir()
    assert main(["prepare", str(cfg), "--quiet"]) == 0
    leftovers = [p.name for p in (tmp_path / "data").rglob(".tmp-*")]
    assert leftovers == []
    from evfer.datasets.manifest import read_manifest

    assert len(read_manifest(tmp_path / "data" / "manifest.csv")) == 24


# ---------------------------------------------------------------------------------- environment
def _numba_default_locators(caching):
    """numba's cache locators beside the source and in the home folder (named with or without a
    leading underscore, depending on the numba version)."""
    names = ("InTreeCacheLocator", "UserWideCacheLocator")
    return [getattr(caching, n, None) or getattr(caching, "_" + n) for n in names]


def test_numba_cache_falls_back_to_a_temporary_folder(monkeypatch):
    """numba's own locators refuse (as for a read-only package folder and home): the kernel still
    compiles, cached in a temporary folder."""
    import numba
    import numba.core.caching as caching

    from evfer.jit import njit, temp_cache_folder

    for cls in _numba_default_locators(caching):
        monkeypatch.setattr(cls, "from_function", classmethod(lambda cls, f, s: None))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(lambda x: x + 1)

    def twice(x):
        return 2 * x

    assert njit()(twice)(21) == 42
    assert numba.config.CACHE_DIR == str(temp_cache_folder())


@pytest.mark.slow
def test_render_works_without_a_writable_package_or_home(tmp_path):
    """A read-only install (simulated: numba's own cache locators refuse) still renders."""
    from evfer.io import write_events
    from evfer.testing import random_events

    ev = write_events(tmp_path / "e.h5", random_events(300, 16, 12))
    code = (
        "import sys, numba.core.caching as c\n"
        "for n in ('InTreeCacheLocator', 'UserWideCacheLocator'):\n"
        "    cls = getattr(c, n, None) or getattr(c, '_' + n)\n"
        "    cls.from_function = classmethod(lambda cls, f, s: None)\n"
        "from evfer.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "HOME": "/nonexistent"}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", code, "render", str(ev), "-o", str(tmp_path / "r.png")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.png").is_file()
