"""The one interface every kind of dataset source fills in (CK+, NEFER, synthetic faces, ...).

A kind says how to list its clips (:meth:`SourceKind.scan`), how to make one clip's events
(:meth:`SourceKind.make_clip`), which of its options shape the events (the fingerprint that decides
"recompute or reuse"), and what its options are (``Options``, a dataclass: the kind's config
schema). ``prepare`` and ``predict`` both turn a spec into events through :meth:`SourceKind.clip`,
so a clip is made the same way wherever it is made. A new kind is one module with a subclass plus
one line in :mod:`evfer.datasets.kinds`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..config import DenoiseConfig, SourceConfig, to_dict
from ..emulator import EmulatorSettings
from ..errors import InputError
from ..filters import background_activity_filter
from ..fingerprint import fingerprint
from .clips import Clip, ClipSpec, Skipped, clip_seed

#: What a kind makes its clips from; ``predict`` picks the kind of an input file by it.
FRAMES, EVENTS = "frames", "events"


@dataclass(frozen=True)
class ClipContext:
    """Run-wide settings every clip is made with (picklable, sent to the workers)."""

    emulator: EmulatorSettings = field(default_factory=EmulatorSettings.resolve)
    denoise: DenoiseConfig = field(default_factory=DenoiseConfig)


@dataclass
class Scan:
    """What listing a source found: clips, skipped items (with reasons) and, for datasets that publish
    one, the official split (subject -> "train" | "test")."""

    specs: list[ClipSpec]
    skipped: list[Skipped] = field(default_factory=list)
    official: dict[str, str] = field(default_factory=dict)


class SourceKind(ABC):
    """One configured source of a kind; subclasses set the class attributes and the two methods."""

    #: the ``kind:`` value in configs
    name: ClassVar[str]
    #: dataclass of the kind's options (every key of a source besides kind, root and limit)
    Options: ClassVar[type]
    #: FRAMES (emulated) or EVENTS (recorded)
    input: ClassVar[str]
    #: options that do not change a clip's events (labels, listing, selection): left out of the fingerprint
    listing_options: ClassVar[frozenset[str]] = frozenset()
    #: options that name files or folders (made absolute with the root when a run is saved)
    path_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, source: SourceConfig, context: ClipContext | None = None):
        self.source = source
        self.options = source.options
        self.context = context or ClipContext()

    @property
    def root(self) -> Path:
        return Path(self.source.root)

    @property
    def source_name(self) -> str:
        """The name that prefixes this source's clip and subject ids (``name``, else the kind)."""
        return self.source.label

    @abstractmethod
    def scan(self, progress: bool = True) -> Scan:
        """List the source's clips (cheap: no events are made here)."""

    @abstractmethod
    def make_clip(self, spec: ClipSpec) -> Clip:
        """The events of one clip, before the run-wide event filter (see :meth:`clip`)."""

    def clip(self, spec: ClipSpec) -> Clip:
        """The clip's events as every stage makes them: :meth:`make_clip`, then the background-activity
        filter when ``data.denoise`` enables it."""
        return self.filtered(self.make_clip(spec))

    def filtered(self, clip: Clip) -> Clip:
        """``clip`` through the run-wide background-activity filter (when ``data.denoise`` enables it)."""
        denoise = self.context.denoise
        if denoise.window_us > 0:
            n0 = len(clip.events)
            events = background_activity_filter(clip.events, denoise.window_us, denoise.radius)
            clip.events = events.with_meta(denoise_kept=len(events), denoise_input=n0)
        return clip

    def settings(self) -> dict[str, Any]:
        """The source options that shape the events (with ``kind``)."""
        options = {k: v for k, v in to_dict(self.options).items() if k not in self.listing_options}
        return {"kind": self.name, **options}

    def events_key(self, spec: ClipSpec) -> str:
        """Fingerprint of everything that determines a clip's events: its input files, the source's
        options, the emulator (frame sources) and the event filter. Stored in the events file; a
        different key on a re-run means the clip is recomputed."""
        recipe = {"paths": spec.paths, "source": self.settings(), "denoise": to_dict(self.context.denoise)}
        if self.input == FRAMES:
            recipe["emulator"] = self.context.emulator.config()
        return fingerprint(recipe)

    def listed(self, specs: list[ClipSpec], skipped: list[Skipped], expected: str | None = None,
               official: dict[str, str] | None = None) -> Scan:
        """A scan's result — every kind returns this: the specs sorted by id and, with the source's
        ``limit`` N, a fixed subset of N of them (chosen by a hash of the clip ids: spread over
        subjects and labels, the same on every run and machine); when nothing at all was found (no
        clip, nothing skipped), InputError naming the root and what was ``expected`` there."""
        if expected is not None and not specs and not skipped:
            raise InputError(self.root, f"no clips found (expected {expected})")
        specs = sorted(specs, key=lambda s: s.id)
        limit = self.source.limit
        if limit is not None and len(specs) > limit:
            chosen = {s.id for s in sorted(specs, key=lambda s: clip_seed(0, s.id))[:limit]}
            specs = [s for s in specs if s.id in chosen]
        return Scan(specs, skipped, dict(official or {}))

    def materialize(self, progress: bool = True) -> None:
        """Write the source's input files where the kind makes them itself (synthetic faces);
        nothing for datasets read from disk. ``prepare`` calls it before :meth:`scan`, which only lists."""

    def spec_for_file(self, path: str | os.PathLike, clip_id: str) -> ClipSpec:
        """A spec for one input outside the dataset (``evfer predict``): a video or image folder for
        frame kinds, a recording for event kinds; subject and label unknown."""
        path = Path(path)
        if not path.exists():
            raise InputError(path, "no such file or folder")
        return ClipSpec(clip_id, self.source_name, "", "", [str(path)])

    def file_clip_id(self, path: Path) -> str:
        """The clip id of one input outside the dataset (it seeds the emulator's per-clip draws):
        the file's name; kinds whose layout names clips give the id ``prepare`` would."""
        return Path(path).name
