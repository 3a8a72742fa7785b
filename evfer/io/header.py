"""Prophesee ASCII ``%`` headers (EVT 2.0 / 2.1 / 3.0 ``.raw`` and ``.dat`` files).

A Prophesee file starts with text lines ``% key value`` and then binary data. Sensor geometry may be
written as ``% format EVT3;height=720;width=1280``, ``% geometry 1280x720`` or ``% Width 1280`` /
``% Height 720``. Older recordings carry none of these, only the camera plugin
(``% plugin_name hal_plugin_gen41_evk3``); :data:`PLUGIN_GEOMETRY` maps those names to the sensor
size, following Metavision's own table (``hal/psee_plugins/.../raw_constants.h``: Gen3/Gen3.1 VGA
plugins 640x480, Gen4/Gen4.1 plugins 1280x720) plus the IMX636 (EVK4, Century Arks) and GenX320
names.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from ..errors import InputError

log = logging.getLogger(__name__)

#: The header must end within this many bytes (real headers are < 1 kB).
MAX_HEADER_BYTES = 1 << 20

#: Exact plugin names (lower case) → (width, height) in pixels.
PLUGIN_GEOMETRY: dict[str, tuple[int, int]] = {
    # Metavision raw_constants.h plugins_map
    "hal_plugin_gen3_fx3": (640, 480),
    "hal_plugin_gen31_fx3": (640, 480),
    "hal_plugin_gen31_evk2": (640, 480),
    "hal_plugin_gen31_evk3": (640, 480),
    "hal_plugin_gen4_fx3": (1280, 720),
    "hal_plugin_gen4_evk2": (1280, 720),
    "hal_plugin_gen41_evk2": (1280, 720),
    "hal_plugin_gen41_evk3": (1280, 720),
    # IMX636 (Gen4.2) on EVK3/EVK4, Century Arks SilkyEvCam VGA / HD
    "hal_plugin_imx636_evk3": (1280, 720),
    "hal_plugin_imx636_evk4": (1280, 720),
    "evc3a_plugin_gen31": (640, 480),
    "evc4a_plugin_imx636": (1280, 720),
}

#: Sensor names looked for inside unknown plugin names (first match wins).
SENSOR_PATTERNS: tuple[tuple[re.Pattern[str], tuple[int, int]], ...] = (
    (re.compile(r"genx320"), (320, 320)),
    (re.compile(r"imx636"), (1280, 720)),
    (re.compile(r"gen41?(?![0-9x])"), (1280, 720)),
    (re.compile(r"gen31?(?![0-9x])"), (640, 480)),
)

EVT_VERSIONS = {"2.0": "evt2", "2.1": "evt2.1", "3.0": "evt3"}
_FORMAT_VERSIONS = {"evt2": "evt2", "evt21": "evt2.1", "evt3": "evt3"}


@dataclass
class PropheseeHeader:
    """What the ``%`` lines of a Prophesee file say.

    Attributes:
        fields: ``key -> value`` of every ``% key value`` line (keys lower-cased, later lines win).
        length: header size in bytes (where the binary data starts).
        version: "evt2", "evt2.1" or "evt3" for .raw files (None if not stated).
        geometry: (width, height) in pixels written in the header, or None.
        plugin_geometry: (width, height) looked up from ``plugin_name``, or None.
        t0: timestamp offset in µs written by encoders that start the stream at zero (``% t0``).
    """

    fields: dict[str, str] = field(default_factory=dict)
    length: int = 0
    version: str | None = None
    geometry: tuple[int, int] | None = None
    plugin_geometry: tuple[int, int] | None = None
    t0: int = 0
    geometry_key: str = ""

    @property
    def plugin_name(self) -> str | None:
        return self.fields.get("plugin_name")


def read_header(path: str | os.PathLike, kind: str = "raw") -> PropheseeHeader:
    """Parse the ``%`` lines at the start of ``path`` (``kind`` is "raw" or "dat", for messages).

    The header is the run of text lines at the start of the file that begin with ``% `` (an
    explicit ``% end`` line closes it; Metavision writes one, older recorders and faery do not).
    Binary data may itself start with the byte ``%``; a line only counts as header text if it is
    "%" + space and holds no control characters (EVT 2.0 data written by faery can start with
    "%\x00"). A file that ends inside a header line was cut there: InputError.
    """
    with open(path, "rb") as f:
        head = f.read(MAX_HEADER_BYTES)
    pos = 0
    lines: list[str] = []
    while pos < len(head) and head[pos : pos + 1] == b"%":
        end = head.find(b"\n", pos)
        cut = end < 0
        if cut:
            if len(head) == MAX_HEADER_BYTES:
                raise InputError(path, f"{kind} header has no end within {MAX_HEADER_BYTES} bytes")
            end = len(head) - 1
        text = _text_line(head[pos : end + 1])
        if text is None:
            break
        if cut:
            problem = f"truncated inside its '%' header: the file ends in the line '{text[:60]}'"
            raise InputError(path, problem)
        pos = end + 1
        lines.append(text)
        if text[1:].strip().lower() == "end":
            break
    return parse_header_lines(lines, pos, source=path)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text_line(line: bytes) -> str | None:
    """The stripped text of a ``%`` header line, or None if the bytes are binary data: header text
    is "%", then a space or the line end, then UTF-8 (or Latin-1) without control characters."""
    if line[1:2] not in (b" ", b"\t", b"\n", b"\r", b""):
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("latin-1")
    return None if _CONTROL.search(text) else text.strip()


def parse_header_lines(
    lines: list[str], length: int, source: str | os.PathLike | None = None
) -> PropheseeHeader:
    """Interpret header lines (each starting with ``%``) of a file whose data starts at ``length``."""
    hdr = PropheseeHeader(length=length)
    for line in lines:
        body = line[1:].strip()
        if not body:
            continue
        key, _, value = body.partition(" ")
        hdr.fields[key.lower()] = value.strip()
    f = hdr.fields
    candidates: list[tuple[str, tuple[int, int]]] = []
    if "format" in f:  # "EVT3;height=720;width=1280"
        parts = [p.strip() for p in f["format"].split(";")]
        hdr.version = _FORMAT_VERSIONS.get(parts[0].lower())
        kv = dict(p.partition("=")[::2] for p in parts[1:] if "=" in p)
        kv = {k.strip().lower(): v.strip() for k, v in kv.items()}
        size = _size(kv.get("width"), kv.get("height"))
        if size:
            candidates.append(("format", size))
    if "evt" in f:
        version = EVT_VERSIONS.get(f["evt"].strip())
        if version is None:
            raise InputError(source, f"unsupported EVT version '% evt {f['evt']}' (expected 2.0, 2.1 or 3.0)")
        if hdr.version and hdr.version != version:
            log.warning(
                "%s: header says '%% evt %s' but '%% format %s'; using evt", source, f["evt"], f["format"]
            )
        hdr.version = version
    if "geometry" in f:
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", f["geometry"])
        if m:
            candidates.append(("geometry", (int(m[1]), int(m[2]))))
    size = _size(f.get("width"), f.get("height"))
    if size:
        candidates.append(("Width/Height", size))
    if candidates:
        hdr.geometry_key, hdr.geometry = candidates[0]
        others = {c for c in candidates if c[1] != hdr.geometry}
        if others:
            log.warning("%s: header sizes disagree %s; using %s", source, candidates, candidates[0][0])
    if hdr.plugin_name:
        hdr.plugin_geometry = plugin_geometry(hdr.plugin_name)
    if "t0" in f:
        try:
            hdr.t0 = int(f["t0"])
        except ValueError:
            raise InputError(source, f"header line '% t0 {f['t0']}' is not an integer") from None
    return hdr


def plugin_geometry(plugin_name: str) -> tuple[int, int] | None:
    """Sensor size (width, height) of a Metavision camera plugin name, or None if unknown."""
    name = plugin_name.strip().lower()
    if name in PLUGIN_GEOMETRY:
        return PLUGIN_GEOMETRY[name]
    for pattern, size in SENSOR_PATTERNS:
        if pattern.search(name):
            return size
    return None


def _size(width: str | None, height: str | None) -> tuple[int, int] | None:
    try:
        w, h = int(width), int(height)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None
