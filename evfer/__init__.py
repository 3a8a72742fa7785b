"""evfer — event-based facial expression recognition.

The package reads as the pipeline: events → io → emulator → datasets → voxel → models →
presentation → training → cli; ``evfer.configure`` loads a checked config for any of them.
"""

from .errors import ConfigError, EvferError, InputError
from .events import EVENT_DTYPE, Events, normalize_polarity

__version__ = "0.1.0"

__all__ = ["EVENT_DTYPE", "Events", "normalize_polarity", "EvferError", "InputError", "ConfigError"]
