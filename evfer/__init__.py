"""evfer — event-based facial expression recognition.

The package reads as the pipeline: events → io → emulator → datasets → voxel → models →
presentation → training → cli; ``evfer.configure`` loads a checked config for any of them.
"""

from .errors import ConfigError, EvferError, InputError
from .events import EVENT_DTYPE, Events, normalize_polarity

__version__ = "0.1.0"

__all__ = ["EVENT_DTYPE", "Events", "normalize_polarity", "EvferError", "InputError", "ConfigError", "Recognizer",
           "load_config"]


def __getattr__(name: str):
    """``evfer.Recognizer`` (:mod:`evfer.api`) and ``evfer.load_config`` (:mod:`evfer.configure`),
    imported on first use: ``import evfer`` stays light."""
    if name == "Recognizer":
        from .api import Recognizer

        return Recognizer
    if name == "load_config":
        from .configure import load_config

        return load_config
    raise AttributeError(f"module 'evfer' has no attribute {name!r}")
