"""DVS emulator: frames and videos to events, faithful to v2e's pixel model, vectorised in torch.

- :func:`emulate` — frames (N, H, W) + timestamps (µs) -> :class:`~evfer.events.Events`.
- :class:`Emulator` — the same, fed chunk by chunk (state carried across chunks).
- :func:`read_frames` / :func:`iter_frames` — video file or image folder -> luma frames + µs times.
- :func:`convert_file` / :func:`convert_sources` — sources -> one HDF5 event file each
  (``evfer convert``).
- :data:`PRESETS`, :class:`EmulatorParams`, :func:`resolve_params` — the parameters;
  :class:`EmulatorSettings` — parameters + preset + seed, resolved once per run.
"""

from .frames import DEFAULT_FOLDER_FPS, iter_frames, read_frames, to_luma
from .model import Emulator, emulate, lin_log, resolve_device
from .params import PARAM_NAMES, PRESETS, EmulatorParams, EmulatorSettings, resolve_params

__all__ = [
    "emulate", "Emulator", "lin_log", "read_frames", "iter_frames", "to_luma", "DEFAULT_FOLDER_FPS",
    "PRESETS", "PARAM_NAMES", "EmulatorParams", "EmulatorSettings", "resolve_params", "resolve_device",
    "convert_file", "convert_sources",
]


def __getattr__(name):  # convert pulls in h5py/tqdm: import it on first use
    if name in ("convert_file", "convert_sources"):
        from . import convert

        return getattr(convert, name)
    raise AttributeError(name)
