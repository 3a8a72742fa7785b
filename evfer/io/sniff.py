"""What a file holds, judged by its first bytes, to tell a user whose file's extension lies.

Only signatures that cannot be mistaken are used: HDF5's 8-byte signature, zip's local-file header
(an .npz archive), NumPy's .npy magic, a pickle's protocol opcode, the AEDAT version line, and a
Prophesee ``% `` text header that states an EVT version (a .raw file) or a DAT version (a .dat
file). Content none of these describe is left to the format's reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Bytes read to recognise a file (Prophesee headers are < 1 kB).
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Content:
    """A kind of file content (``kind``, matched against the format table) and how to name it."""

    kind: str
    description: str


_SIGNATURES = (
    (b"\x89HDF\r\n\x1a\n", Content("hdf5", "an HDF5 file")),
    (b"PK\x03\x04", Content("zip", "a zip archive (as .npz files are)")),
    (b"PK\x05\x06", Content("zip", "an empty zip archive")),
    (b"\x93NUMPY", Content("npy", "a single NumPy array (.npy data)")),
    (b"#!AER-DAT4.0", Content("aedat4", "an AEDAT 4.0 recording")),
)
_OLD_AEDAT = re.compile(rb"#!AER-DAT(\d+\.\d+)")
_PICKLE = re.compile(rb"\x80[\x02-\x05]")
_EVT_LINE = re.compile(r"% (?:evt (\d\.\d)|format evt(\d)(\d?))\b", re.IGNORECASE)
#: Prophesee DAT writers start with this line; without it, a "% Version" line and no EVT line.
_DAT_FIRST = re.compile(r"% data file containing", re.IGNORECASE)
_DAT_VERSION = re.compile(r"% version \d", re.IGNORECASE)


def sniff(path: Path) -> Content | None:
    """The content of ``path`` when its first bytes say it clearly, else None."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    for signature, content in _SIGNATURES:
        if head.startswith(signature):
            return content
    m = _OLD_AEDAT.match(head)
    if m:
        version = m.group(1).decode()
        return Content(
            "aedat-old",
            f"an AEDAT {version} recording (jAER / cAER): not an AEDAT 4.0 file, the only AEDAT evfer reads",
        )
    if _PICKLE.match(head):
        return Content("pickle", "a Python pickle, which evfer never loads")
    if head.startswith(b"%"):
        return _prophesee(head)
    return None


def _prophesee(head: bytes) -> Content | None:
    lines = []
    for line in head.split(b"\n"):
        if not line.startswith(b"%"):
            break
        lines.append(line.decode("latin-1").strip())
    dat = Content("prophesee-dat", "a Prophesee DAT recording")
    if any(_DAT_FIRST.match(line) for line in lines):
        return dat
    for line in lines:
        m = _EVT_LINE.match(line)
        if m:
            version = m.group(1) or f"{m.group(2)}.{m.group(3) or 0}"
            return Content("prophesee-evt", f"a Prophesee EVT {version} recording")
    return dat if any(_DAT_VERSION.match(line) for line in lines) else None
