"""Pictures of events: ON/OFF event frames, voxel-grid montages, animated GIFs.

Drawn on bare matplotlib ``Figure`` objects (Agg rendering, no display, no pyplot state).

Colours are shared by every picture: white background, ON red, OFF blue, pixels with as many ON as
OFF events grey; voxel panels use the same red/blue diverging map centred on 0.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import numpy as np

from ..atomic import atomic_path
from ..events import Events
from ..voxel import clip_histograms, clip_voxels, resolve_window

BACKGROUND = (255, 255, 255)
ON_COLOR = (214, 39, 40)
OFF_COLOR = (31, 119, 180)
MIXED_COLOR = (127, 127, 127)
VOXEL_CMAP = "RdBu_r"  # positive (ON) red, negative (OFF) blue, 0 white

#: Output formats of :func:`render_summary`, chosen by the file suffix.
SUMMARY_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")

_PAD = 8  # pixels around each panel
_TITLE = 22  # pixels above each panel for its title
_HEADER = 30  # pixels for the figure title
_COLORBAR = 90  # pixels right of the montage for the colour bar
_MAX_PANEL = 480  # longest panel side in pixels (larger sensors are shown scaled down)
_MIN_PANEL = 160  # shortest target for the longest side (small sensors are zoomed by an integer)


def colorize(histogram: np.ndarray) -> np.ndarray:
    """(2, H, W) ON/OFF counts -> uint8 RGB (H, W, 3) event frame: majority polarity decides the colour."""
    on, off = histogram[0], histogram[1]
    frame = np.empty(on.shape + (3,), np.uint8)
    frame[:] = BACKGROUND
    frame[on > off] = ON_COLOR
    frame[off > on] = OFF_COLOR
    frame[(on == off) & (on > 0)] = MIXED_COLOR
    return frame


def event_frame(
    events: Events,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Event frame of [t_start, t_end] µs (default: all events): uint8 RGB (H, W, 3), or
    (H', W', 3) for ``size=(W', H')`` (event coordinates scaled: every event counts)."""
    return colorize(clip_histograms(events, 1, t_start=t_start, t_end=t_end, size=size)[0])


def event_frames(
    events: Events,
    frames: int,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """``frames`` event frames of equal duration over [t_start, t_end] µs: uint8 (F, H, W, 3)."""
    counts = clip_histograms(events, frames, t_start=t_start, t_end=t_end, size=size)
    return np.stack([colorize(c) for c in counts])


def format_time(us: float) -> str:
    """A time in µs for titles: ``850 µs``, ``12.5 ms``, ``1.234 s``."""
    if abs(us) < 1_000:
        return f"{us:g} µs"
    if abs(us) < 1_000_000:
        return f"{us / 1e3:.4g} ms"
    return f"{us / 1e6:.6g} s"


def panel_size(width: int, height: int) -> tuple[int, int]:
    """Pixel size at which a width x height sensor is drawn: integer zoom for small sensors,
    scaled down to at most 480 px for large ones (by scaling event coordinates, so every event
    still shows: see :func:`drawn_size`)."""
    longest = max(width, height)
    if longest > _MAX_PANEL:
        zoom = _MAX_PANEL / longest
    else:
        zoom = max(1, _MIN_PANEL // longest)
    return max(1, round(width * zoom)), max(1, round(height * zoom))


def drawn_size(width: int, height: int) -> tuple[int, int] | None:
    """The ``size`` frames and voxels are computed at before drawing: None (sensor resolution,
    drawn with integer zoom) or the reduced panel size for sensors larger than the panel."""
    pw, ph = panel_size(width, height)
    return (pw, ph) if pw < width or ph < height else None


def summary_size(width: int, height: int, bins: int) -> tuple[int, int]:
    """Pixel size (W, H) of the PNG written by :func:`render_summary`."""
    pw, ph = panel_size(width, height)
    cols, rows = _grid(bins + 1)
    return cols * (pw + 2 * _PAD) + _COLORBAR, rows * (ph + _TITLE + _PAD) + _HEADER + _PAD


def render_summary(
    events: Events,
    path: str | os.PathLike,
    *,
    bins: int = 10,
    t_start: int | None = None,
    t_end: int | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> tuple[int, int]:
    """Write one image: the event frame of [t_start, t_end] µs and its ``bins`` voxel-grid bins.

    The format follows the suffix (PNG, or PDF/SVG/JPEG; see SUMMARY_FORMATS). Returns the image
    size (W, H) in pixels (= :func:`summary_size`). Raises ValueError when the window holds no
    events or the suffix is not a supported format.
    """
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt not in SUMMARY_FORMATS:
        raise ValueError(f"unsupported image type '.{fmt}'; use one of .{', .'.join(SUMMARY_FORMATS)}")
    from matplotlib.figure import Figure

    window = resolve_window(events, t_start, t_end)
    if window is None or len(events.window(window[0], window[1] + 1)) == 0:
        raise ValueError("no events in the window")
    t0, t1 = window
    size = drawn_size(events.width, events.height)
    frame = event_frame(events, t_start=t0, t_end=t1, size=size)
    voxels = clip_voxels(events, bins, 1, t_start=t0, t_end=t1, size=size)[0]
    n = len(events.window(t0, t1 + 1))

    fig_w, fig_h = summary_size(events.width, events.height, bins)
    pw, ph = panel_size(events.width, events.height)
    cols, _ = _grid(bins + 1)
    fig = Figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
    heading = title or events.meta.get("source") or "events"
    fig.text(
        0.5, 1 - (_HEADER / 2) / fig_h,
        f"{os.path.basename(str(heading))}: {n:,} events from t = {t0} µs, span {format_time(t1 - t0)}; "
        "ON red, OFF blue",
        ha="center", va="center", fontsize=10,
    )
    limit = float(np.percentile(np.abs(voxels[voxels != 0]), 99)) if voxels.any() else 1.0
    image = None
    for i in range(bins + 1):
        row, col = divmod(i, cols)
        left = col * (pw + 2 * _PAD) + _PAD
        top = _HEADER + row * (ph + _TITLE + _PAD) + _TITLE
        ax = fig.add_axes((left / fig_w, 1 - (top + ph) / fig_h, pw / fig_w, ph / fig_h))
        ax.set_axis_off()
        if i == 0:
            ax.imshow(frame, interpolation="nearest", aspect="auto")
            ax.set_title("event frame", fontsize=8)
        else:
            image = ax.imshow(voxels[i - 1], cmap=VOXEL_CMAP, vmin=-limit, vmax=limit,
                              interpolation="nearest", aspect="auto")
            ax.set_title(f"voxel bin {i - 1}", fontsize=8)
    cax = fig.add_axes(((fig_w - _COLORBAR + 8) / fig_w, _PAD / fig_h, 12 / fig_w,
                        (fig_h - _HEADER - _TITLE - 2 * _PAD) / fig_h))
    fig.colorbar(image, cax=cax)
    with atomic_path(path, make_folder=False) as tmp, _no_glyph_warnings():
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return fig_w, fig_h


def render_gif(
    events: Events,
    path: str | os.PathLike,
    *,
    frames: int = 40,
    fps: float = 10.0,
    t_start: int | None = None,
    t_end: int | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> int:
    """Write an animated GIF of ``frames`` event frames splitting [t_start, t_end] µs evenly,
    played at ``fps`` frames per second (titles give times relative to the window start).
    Returns the number of frames written."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    window = resolve_window(events, t_start, t_end)
    if window is None or len(events.window(window[0], window[1] + 1)) == 0:
        raise ValueError("no events in the window")
    t0, t1 = window
    images = event_frames(events, frames, t_start=t0, t_end=t1, size=drawn_size(events.width, events.height))
    pw, ph = panel_size(events.width, events.height)
    fig_w, fig_h = pw + 2 * _PAD, ph + _TITLE + _PAD
    fig = Figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
    ax = fig.add_axes((_PAD / fig_w, _PAD / fig_h, pw / fig_w, ph / fig_h))
    ax.set_axis_off()
    shown = ax.imshow(images[0], interpolation="nearest", aspect="auto")
    label = ax.set_title("", fontsize=8)
    step = (t1 - t0) / frames
    prefix = f"{os.path.basename(str(title))}  " if title else ""

    def draw(i: int):
        shown.set_data(images[i])
        label.set_text(f"{prefix}+{format_time(i * step)} to +{format_time((i + 1) * step)}")
        return shown, label

    animation = FuncAnimation(fig, draw, frames=frames, blit=False)
    with atomic_path(path, make_folder=False) as tmp, _no_glyph_warnings():
        animation.save(tmp, writer=PillowWriter(fps=fps), dpi=dpi)
    return frames


@contextlib.contextmanager
def _no_glyph_warnings():
    """Matplotlib warns once per character its font lacks (a file name in CJK script): the title
    shows boxes there, the terminal stays clean."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        yield


def _grid(panels: int) -> tuple[int, int]:
    """(columns, rows) for a montage of ``panels`` panels: at most 4 columns."""
    cols = min(panels, 4)
    return cols, math.ceil(panels / cols)
