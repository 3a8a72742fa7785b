"""AEDAT 4.0 (iniVation DV) files through faery: the first event track is read.

Timestamps are Unix-epoch µs (about 1.6e15) and stay as they are (int64). The sensor size comes
from the track description (``sizeX``/``sizeY``). Written files carry the metadata as a JSON string
attribute ``evfer_meta`` next to ``sizeX``/``sizeY``.

Corrupt headers: faery 0.7.1 reads the IOHeader flatbuffer without bounds checks (a bad offset is
a Rust panic) and, when the XML description is not valid UTF-8, can abort the whole process
(SIGABRT, nothing to catch). :func:`check_io_header` therefore checks the header in Python first;
damage in the data packets is left to faery (errors and panics become InputErrors, see
:func:`evfer.io.native.library_errors`).

Truncation: faery raises on a packet cut short ("failed to fill whole buffer"), which becomes a
one-line InputError. The IOHeader states where the packets end (``dataTablePosition``, the start
of the trailing packet index, the FileDataTable): a file shorter than that lost packets and is
refused with a line that says so, before faery sees it (faery fails on it too, with "failed to
fill whole buffer", also when the cut lies exactly between two packets). A file that only lost the
end of its FileDataTable still holds every packet and is read completely (the shared sample minus
its last byte gives all 111,954 events). The packet headers are walked up front
(:func:`check_packets`): a size field that claims more than the file holds is refused before faery
allocates it (one damaged to 4 GB made it allocate 4 GB).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..events import Events
from .metadata import META_KEY, meta_from_json, meta_to_json
from .native import faery_packets, native, native_decoder, native_steps
from .reader import EventReader, FileInfo, event_array

_WHAT = "AEDAT 4.0"
MAGIC = b"#!AER-DAT4.0"
#: The version line that starts every AEDAT 4.0 file; the IOHeader follows it.
VERSION_LINE = MAGIC + b"\r\n"
#: IOHeader fields (flatbuffer table IOHeader of the AEDAT 4.0 spec, in vtable order).
_IO_FIELDS = ("compression", "dataTablePosition", "infoNode")


def check_io_header(path: Path) -> int | None:
    """InputError unless ``path`` starts with a sound AEDAT 4.0 IOHeader; returns the byte where
    its packets end (``dataTablePosition``), or None when the header states none.

    After the 14-byte version line comes a size-prefixed flatbuffer (uint32 size, then the buffer:
    uint32 offset of the root table; the table starts with an int32 offset back to its vtable;
    the vtable holds uint16 vtable size, table size and one uint16 offset per field). Every offset
    faery follows is checked to stay inside the buffer (values faery does not use, like the table
    size, are not checked), and the description (field infoNode, uint32 length + bytes) must be
    UTF-8 text: faery 0.7.1 panics or aborts on a description that is not.
    """
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(len(VERSION_LINE) + 4)
        if head[: len(VERSION_LINE)] != VERSION_LINE:
            raise InputError(path, f"not an AEDAT 4.0 file (does not start with {MAGIC.decode()})")
        if len(head) < len(VERSION_LINE) + 4:
            raise InputError(path, "truncated: the AEDAT 4.0 header is missing")
        (size,) = struct.unpack_from("<I", head, len(VERSION_LINE))
        if size > file_size - len(head):
            raise InputError(
                path, f"corrupt or truncated AEDAT 4.0 header: it claims {size:,} bytes, the file has "
                f"{file_size - len(head):,} after it"
            )  # fmt: skip
        buf = f.read(size)

    def bad(what: str) -> InputError:
        return InputError(path, f"corrupt AEDAT 4.0 header: {what}")

    def u32(at: int, what: str) -> int:
        if not 0 <= at <= len(buf) - 4:
            raise bad(f"{what} lies outside the {len(buf)}-byte header")
        return struct.unpack_from("<I", buf, at)[0]

    table = u32(0, "the root offset")
    back = struct.unpack_from("<i", buf, table)[0] if 0 <= table <= len(buf) - 4 else None
    if back is None:
        raise bad("the root table lies outside the header")
    vtable = table - back
    if not 0 <= vtable <= len(buf) - 4:
        raise bad("the field table lies outside the header")
    vt_size = struct.unpack_from("<H", buf, vtable)[0]  # the table size after it is not used
    if vt_size < 4 or vt_size % 2 or vtable + vt_size > len(buf):
        raise bad("the field table has an impossible size")
    offsets = {}
    for i, name in enumerate(_IO_FIELDS):
        at = 4 + 2 * i
        offsets[name] = struct.unpack_from("<H", buf, vtable + at)[0] if at + 2 <= vt_size else 0
    sizes = {"compression": 4, "dataTablePosition": 8, "infoNode": 4}
    for name, off in offsets.items():
        if off and (off < 4 or table + off + sizes[name] > len(buf)):
            raise bad(f"field {name} lies outside the header")
    end = None
    if offsets["dataTablePosition"]:
        end = struct.unpack_from("<q", buf, table + offsets["dataTablePosition"])[0]
        if end > file_size:
            raise InputError(
                path, f"truncated AEDAT 4.0 file: its header says the packets end at byte {end:,}, "
                f"but the file has {file_size:,} bytes (packets lost)"
            )  # fmt: skip
        end = end if end >= 0 else None
    if not offsets["infoNode"]:
        return end
    at = table + offsets["infoNode"]
    start = at + u32(at, "the description offset")
    length = u32(start, "the description")
    if start + 4 + length > len(buf):
        raise bad(f"the description ({length:,} bytes) runs past the end of the header")
    try:
        buf[start + 4 : start + 4 + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad(f"the XML description is not UTF-8 text (byte {exc.start:,} of it)") from None
    return end


#: PacketHeader: int32 stream id, int32 size of the packet that follows.
_PACKET_HEADER = struct.Struct("<iI")


def check_packets(path: Path, end: int | None) -> None:
    """InputError unless the packets of ``path`` (after its IOHeader) fill the file up to ``end``
    (where the header says they end; None: the end of the file) exactly.

    Each packet is a PacketHeader (stream id, size) and ``size`` bytes. faery allocates a
    packet's stated size before reading it: a size field damaged into 4 GB in a 1 MB file made it
    allocate 4 GB before failing. Walking the headers (8 bytes read per packet) refuses such a
    file up front, naming the packet.
    """
    file_size = path.stat().st_size
    limit = "the end of the file" if end is None else "the packet index"
    end = file_size if end is None else end
    with open(path, "rb") as f:
        f.seek(len(VERSION_LINE))
        (size,) = struct.unpack("<I", f.read(4))
        pos = len(VERSION_LINE) + 4 + size
        if pos > end:
            raise InputError(path, f"corrupt AEDAT 4.0 header: it says the packets end at byte {end:,}, "
                             f"inside the header ({pos:,} bytes)")  # fmt: skip
        n = 0
        while pos < end:
            f.seek(pos)
            head = f.read(_PACKET_HEADER.size)
            if len(head) < _PACKET_HEADER.size or pos + _PACKET_HEADER.size > end:
                raise InputError(path, f"truncated AEDAT 4.0 file: packet {n + 1:,} (byte {pos:,}) has no "
                                 "complete header")  # fmt: skip
            _, size = _PACKET_HEADER.unpack(head)
            pos += _PACKET_HEADER.size + size
            if pos > end:
                left = end - pos + size
                raise InputError(
                    path, f"corrupt or truncated AEDAT 4.0 file: packet {n + 1:,} claims {size:,} bytes, "
                    f"but only {left:,} follow it before {limit}"
                )  # fmt: skip
            n += 1


class AedatReader(EventReader):
    def __init__(self, path: Path):
        from faery.extension import aedat

        self.path = path
        self.packets_end = check_io_header(path)
        check_packets(path, self.packets_end)
        with native_decoder(path, _WHAT, lambda: aedat.Decoder(path)) as dec:
            tracks = native(path, _WHAT, dec.tracks)
            description = native(path, _WHAT, dec.description)
        event_tracks = [t for t in tracks if t.data_type == "events"]
        if not event_tracks:
            kinds = ", ".join(t.data_type for t in tracks) or "none"
            raise InputError(path, f"has no event track (tracks: {kinds})")
        self.track = event_tracks[0]
        meta_text = _find_attribute(description, META_KEY)
        self.info = FileInfo(
            format="aedat4",
            description="AEDAT 4.0 (.aedat4)",
            geometry=tuple(self.track.dimensions) if self.track.dimensions else None,
            geometry_detail=f"track {self.track.id} description",
            meta=meta_from_json(meta_text, path) if meta_text else {},
            header={"tracks": [f"{t.id}:{t.data_type}" for t in tracks], "event_track": self.track.id},
        )

    def checks(self) -> list[str]:
        out = ["header sound", "packet sizes fit the file", "every packet decodes"]
        if self.packets_end is not None:
            out.append("no packet lost (the header states where they end)")
        return out

    def undetectable(self) -> str:
        cut = "" if self.packets_end is not None else "a file cut between two packets or "
        return f"{cut}a flipped bit inside a packet that still decompresses cannot be detected"

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        from faery.extension import aedat

        with native_decoder(self.path, _WHAT, lambda: aedat.Decoder(self.path)) as dec:
            for track, packet in native_steps(dec, self.path, _WHAT):
                if track.id == self.track.id and len(packet):
                    yield event_array(packet["t"], packet["x"], packet["y"], packet["on"])


def _find_attribute(nodes: list, name: str) -> str | None:
    for node in nodes:
        if name in node.attributes:
            return str(node.attributes[name].value)
        found = _find_attribute(node.nodes, name)
        if found is not None:
            return found
    return None


def write_aedat(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    """One event track (id 0), LZ4-compressed, the way faery and DV write it."""
    from faery.extension import aedat

    node, attr = aedat.DescriptionNode, aedat.DescriptionAttribute
    info = {
        "sizeX": attr("int", int(width)),
        "sizeY": attr("int", int(height)),
        "source": attr("string", "evfer"),
    }
    if meta:
        info[META_KEY] = attr("string", meta_to_json(meta))
    root = "/mainloop/Recorder/outInfo/"
    description = [
        node("outInfo", root, {}, [
            node("0", root + "0/", {
                "compression": attr("string", "LZ4"),
                "originalOutputName": attr("string", "events"),
                "typeIdentifier": attr("string", "EVTS"),
            }, [node("info", root + "0/info/", info, [])]),
        ])
    ]  # fmt: skip
    with aedat.Encoder(tmp, description, aedat.LZ4_DEFAULT) as enc:
        for a, _ in faery_packets(chunks, ("on", "?"), "AEDAT 4.0"):
            enc.write(0, a)
