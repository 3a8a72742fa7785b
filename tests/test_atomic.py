import pytest

from evfer.atomic import atomic_path, write_json_atomic


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "sub" / "out.h5"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".h5" and tmp.parent == target.parent and tmp.name.startswith(".tmp-")
        tmp.write_bytes(b"abc")
        assert not target.exists()
    assert target.read_bytes() == b"abc"
    assert list(target.parent.iterdir()) == [target]


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_complete_file(tmp_path):
    target = tmp_path / "m.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise KeyError
    assert target.read_text().strip().startswith("{")


def test_outputs_get_normal_permissions(tmp_path):
    import os

    target = tmp_path / "x.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~mask)
