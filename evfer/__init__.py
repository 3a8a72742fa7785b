"""evfer — event-based facial expression recognition.

Pipeline: events → emulator → datasets → voxel → models → training → cli.
"""

from .errors import ConfigError, EvferError, InputError
from .events import EVENT_DTYPE, Events, normalize_polarity

__version__ = "0.1.0"

__all__ = ["EVENT_DTYPE", "Events", "normalize_polarity", "EvferError", "InputError", "ConfigError"]
