"""Atomic outputs: write to a temporary file beside the target, rename on success.

A killed job never leaves a half-written file under the final name, so "the output exists" always
means "the output is complete" — which is what resumable jobs test. Temporary names carry the
writing process's id (``.tmp-<name>~<pid>~...``), so the next run can remove what a killed run left
behind (:func:`remove_stale_temporaries`) without touching the files of a run still going on.
A target that cannot be written is an :class:`~evfer.errors.OutputError` naming it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import OutputError

#: errors of writing an output (a full disk, a quota, a read-only or vanished folder, no permission):
#: raised by the writer inside :func:`atomic_path`, they become an OutputError naming the output
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}

#: A temporary name and the pid of the process that made it: ``.tmp-<name>~<pid>~<random>``.
_TEMP = re.compile(r"^\.tmp-.*~(\d+)~")


def temp_prefix(name: str) -> str:
    """The start of this process's temporary names for the output ``name``."""
    return f".tmp-{name}~{os.getpid()}~"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, *, make_folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it to ``path`` if the block succeeds.

    The temporary name keeps the target's suffix (libraries that dispatch on it still work) and
    starts with ``.tmp-`` and the process id. The folder is created when missing unless
    ``make_folder`` is false; a folder that cannot be used is an OutputError naming ``path``, and so
    is a failed write inside the block (a full disk: ``ENOSPC``, see :data:`WRITE_ERRNOS`); the
    temporary is removed in every failure.
    """
    path = Path(path)
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise OutputError(path, f"the folder {path.parent} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.stem), suffix=path.suffix if suffix is None else suffix,
                                   dir=path.parent)
    except OSError as exc:
        raise OutputError(path, f"cannot write here ({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OutputError as exc:  # named after the temporary by the writer: name the output
            if exc.target != str(tmp_path):
                raise
            raise OutputError(path, exc.problem) from None
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            raise OutputError(path, f"cannot write here ({exc.strerror or type(exc).__name__})") from None
        try:
            os.replace(tmp_path, path)
        except IsADirectoryError:
            raise OutputError(path, "is a folder; give a file name") from None
        except OSError as exc:
            raise OutputError(path, f"cannot write here ({exc.strerror or type(exc).__name__})") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def check_not_input(output: str | os.PathLike, inputs) -> None:
    """OutputError when ``output`` is one of ``inputs`` (the same file: the same path once resolved,
    or the same inode): an output never replaces an input."""
    out = Path(output)
    for item in inputs:
        src = Path(item)
        if not src.exists():
            continue
        same = out.resolve() == src.resolve()
        if not same and out.exists():
            try:
                same = os.path.samefile(out, src)
            except OSError:
                same = False
        if same:
            raise OutputError(out, f"is the input {src}; an output never replaces an input: choose another name")


def space_left(path: str | os.PathLike) -> int | None:
    """Free bytes on the disk that holds ``path``'s folder; None when that cannot be told."""
    try:
        return shutil.disk_usage(Path(path).parent).free
    except OSError:
        return None


def no_space(free: int) -> str:
    """The words for a write that failed with ``free`` bytes left: a full disk."""
    return f"No space left on device: {free / 2**20:.1f} MB free"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a process of another user counts; a zombie — exited, not
    yet reaped, as the orphans of a killed run may stay where nothing reaps them — does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust the signal check
    return state not in ("Z", "X")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` (not below it) whose writing process is
    gone — leftovers of a killed run; returns what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = _TEMP.match(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=json_default) + "\n")


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars/arrays and paths."""
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"value of type {type(obj).__name__} cannot be stored as JSON")
