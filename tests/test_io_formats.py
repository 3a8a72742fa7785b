"""The format table (evfer.io.formats): what is derived from it, the reader base class, and the
rule that no other package uses io's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import evfer
from evfer.errors import InputError
from evfer.io import FORMATS, SUPPORTED_SUFFIXES, WRITE_FORMATS, EventReader, EventStats, write_events
from evfer.io.formats import open_reader, resolve, write_format
from evfer.testing import random_events

EVFER = Path(evfer.__file__).parent


def test_derived_lists():
    assert SUPPORTED_SUFFIXES == (".raw", ".dat", ".aedat4", ".h5", ".hdf5", ".npz")
    assert WRITE_FORMATS == ("evt3", "evt2", "dat", "aedat4", "evfer", "v2e", "npz")


@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("x.raw", {}, "evt3"), ("X.RAW", {}, "evt3"), ("x.raw", {"version": "evt2"}, "evt2"),
        ("x.dat", {}, "dat"), ("x.aedat4", {}, "aedat4"), ("x.h5", {}, "evfer"), ("x.hdf5", {}, "evfer"),
        ("x.v2e.h5", {}, "v2e"), ("x.V2E.hdf5", {}, "v2e"), ("v2e.h5", {}, "evfer"),
        ("x.h5", {"format": "v2e"}, "v2e"), ("x.v2e.h5", {"format": "evfer"}, "evfer"), ("x.npz", {}, "npz"),
    ],
)  # fmt: skip
def test_write_format_choice(name, options, expected):
    assert write_format(Path(name), options.get("format"), options.get("version")).name == expected


@pytest.mark.parametrize(
    "name, options, error",
    [
        ("x.raw", {"version": "evt21"}, "unknown EVT version 'evt21'; choose evt3 or evt2"),
        ("x.dat", {"version": "evt2"}, "version= is for .raw files only"),
        ("x.raw", {"format": "evt3", "version": "evt2"}, "not together with format="),
        ("x.raw", {"format": "v3"}, "unknown format 'v3'; choose one of evt3, evt2, dat, aedat4, evfer, v2e"),
        ("x.h5", {"format": "evt2"}, "format='evt2' needs a file name ending in .raw"),
        ("x.npz", {"format": "evfer"}, "format='evfer' needs a file name ending in .h5 or .hdf5"),
    ],
)
def test_write_format_errors(name, options, error):
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        write_format(Path(name), options.get("format"), options.get("version"))


def test_every_row_resolves():
    for f in FORMATS:
        assert callable(resolve(f.reader)) and callable(resolve(f.writer)), f.name
        assert f.suffixes and all(s.startswith(".") and s == s.lower() for s in f.suffixes)
    shared = {}
    for f in FORMATS:  # formats that share a suffix share the reader that tells them apart
        for s in f.suffixes:
            assert shared.setdefault(s, f.reader) == f.reader, s


def test_capabilities_match_behaviour(tmp_path, monkeypatch):
    """Each row, written and read back: the reader is an EventReader, and a window read decodes
    only about the window exactly for the rows that have a time index."""
    from evfer.io import hdf5

    monkeypatch.setattr(hdf5, "CHUNK", 1000)  # index rows every 1,000 events
    ev = random_events(20_000, 64, 48, duration=10_000_000, seed=6)
    names = {"v2e": "w.v2e.h5"}
    for f in FORMATS:
        path = write_events(tmp_path / names.get(f.name, f"w{f.name}{f.suffixes[0]}"), ev, format=f.name, k=1)
        reader = open_reader(path)
        assert isinstance(reader, EventReader)
        decoded = sum(len(a) for a in reader.packets(9_000_000, 9_500_000))
        assert (decoded < len(ev) / 2) == f.time_index, f.name
        assert (reader.info.geometry == (64, 48)) == f.stores_size
        assert (reader.info.meta.get("k") == 1) == f.stores_meta


def test_reader_base_class():
    class Minimal(EventReader):
        def packets(self, t_start=None, t_end=None, whole=False):
            yield from ()

    assert Minimal().check_stats(EventStats(5, 2, 0, 9)) is None  # states nothing: nothing to check

    class NoPackets(EventReader):
        pass

    with pytest.raises(TypeError, match="abstract"):
        NoPackets()


def test_unknown_suffix_before_anything_else(tmp_path):
    with pytest.raises(InputError, match=r"unknown file type '\.csv'; supported: \.raw, \.dat"):
        open_reader(tmp_path / "missing.csv")


def test_importing_io_loads_no_decoder_library():
    code = "import sys, evfer.io; print(sorted(m for m in ('h5py', 'faery', 'evt3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _imports(path: Path, root: Path = EVFER):
    """(module, names) of every ``from ... import`` in ``path`` (a file of package ``root``),
    relative imports resolved to absolute module names."""
    package = list(path.relative_to(root.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, [a.name for a in node.names]


def _private(dotted: str) -> bool:
    return any(p.startswith("_") and not p.startswith("__") for p in dotted.split("."))


def _offences(root: Path) -> list[str]:
    """Imports of io's private modules / names from outside io, and of other packages' private
    modules / names from inside io."""
    found = []
    for path in sorted(root.rglob("*.py")):
        inside = (root / "io") in path.parents
        for module, names in _imports(path, root):
            to_io = module == "evfer.io" or module.startswith("evfer.io.")
            if module.startswith("evfer") and inside != to_io:
                bad = [n for n in names if _private(n)] + ([module] if _private(module) else [])
                if bad:
                    found.append(f"{path.relative_to(root.parent)}: {module} {bad}")
    return found


def test_no_private_io_names_outside_io_and_none_taken_by_io():
    assert _offences(EVFER) == []


def test_the_import_check_sees_offences(tmp_path):
    """The check is not vacuous: it resolves relative imports and flags both directions."""
    (tmp_path / "evfer" / "cli").mkdir(parents=True)
    (tmp_path / "evfer" / "io").mkdir()
    (tmp_path / "evfer" / "cli" / "bad.py").write_text("from ..io._common import x\nfrom ..io import _y, z\n")
    (tmp_path / "evfer" / "io" / "bad.py").write_text("from ..events import _z\nfrom ._own import ok\n")
    assert _offences(tmp_path / "evfer") == [
        "evfer/cli/bad.py: evfer.io._common ['evfer.io._common']",
        "evfer/cli/bad.py: evfer.io ['_y']",
        "evfer/io/bad.py: evfer.events ['_z']",
    ]
