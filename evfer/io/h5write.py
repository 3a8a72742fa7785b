"""Writing HDF5 files without crashing on a full disk.

When a write fails (``ENOSPC``: the disk is full, a quota is reached), the HDF5 library keeps the
file's dirty chunks and metadata and retries them at every close, up to its own shutdown at the
interpreter's exit — where it crashes the process (a segmentation fault, measured with h5py 3.16).
So HDF5 must never see a failed write. Where the disk has little space left (less than
:data:`ROOMY` bytes free), :func:`hdf5_for_writing` hands h5py a file object
(:class:`NeverFailingFile`) that writes to the disk and, from the first failed write on, goes on in
memory; once h5py has closed the file, the failure is raised as an :class:`~evfer.errors.OutputError`
naming the output, and the caller's atomic writer removes the temporary. With room to spare, h5py
writes the file itself (its own driver lays the file out as every earlier evfer did; through a file
object HDF5 does not aggregate its metadata, so the bytes differ).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

from ..atomic import space_left
from ..errors import OutputError


class NeverFailingFile(io.RawIOBase):
    """A file on disk for h5py's file-object driver whose writes never fail (see the module doc);
    ``error`` is the first OSError, if any. Memory: nothing until a write fails, then the file's
    size so far (it is discarded)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.disk = open(self.path, "w+b", buffering=0)  # noqa: SIM115 - closed in close()
        self.memory: bytearray | None = None
        self.error: OSError | None = None
        self.pos = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        size = len(self.memory) if self.memory is not None else os.fstat(self.disk.fileno()).st_size
        self.pos = {0: offset, 1: self.pos + offset, 2: size + offset}[whence]
        return self.pos

    def write(self, data) -> int:
        data = bytes(data)
        if self.memory is None:
            try:
                self.disk.seek(self.pos)
                view = memoryview(data)
                while view:
                    view = view[self.disk.write(view):]
                self.pos += len(data)
                return len(data)
            except OSError as exc:
                self._to_memory(exc)
        end = self.pos + len(data)
        if end > len(self.memory):
            self.memory.extend(b"\0" * (end - len(self.memory)))
        self.memory[self.pos:end] = data
        self.pos = end
        return len(data)

    def _to_memory(self, exc: OSError) -> None:
        """Go on in memory: the file so far, read back."""
        self.error = exc
        self.disk.seek(0)
        self.memory = bytearray(self.disk.read())
        with contextlib.suppress(OSError):
            self.disk.truncate(0)  # give the disk space back now

    def readinto(self, buffer) -> int:
        if self.memory is not None:
            chunk = self.memory[self.pos:self.pos + len(buffer)]
        else:
            self.disk.seek(self.pos)
            chunk = self.disk.read(len(buffer)) or b""
        buffer[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)

    def truncate(self, size: int | None = None) -> int:
        size = self.pos if size is None else size
        if self.memory is not None:
            del self.memory[size:]
            if len(self.memory) < size:
                self.memory.extend(b"\0" * (size - len(self.memory)))
            return size
        try:
            self.disk.truncate(size)
        except OSError as exc:
            self._to_memory(exc)
            return self.truncate(size)
        return size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.disk.close()
            self.memory = None
        super().close()


#: free bytes above which h5py writes a file itself (no evfer output comes near this in one write)
ROOMY = 2 * 2**30


@contextlib.contextmanager
def hdf5_for_writing(path: str | os.PathLike, target: str | os.PathLike | None = None, *,
                     roomy: int = ROOMY) -> Iterator:
    """``h5py.File`` open for writing at ``path`` (see the module doc); an OutputError naming
    ``target`` (default ``path``) when the disk refused a write."""
    import h5py

    if (space_left(path) or 0) >= roomy:
        with h5py.File(path, "w") as f:
            yield f
        return
    raw = NeverFailingFile(path)
    try:
        with h5py.File(raw, "w") as f:
            yield f
    finally:
        error = raw.error
        raw.close()
    if error is not None:
        raise OutputError(target or path, f"cannot write here ({error.strerror or error})")
