"""the config reference: every key with its type, default, allowed values and meaning

Generated from the config's own dataclasses (evfer/config.py and each source kind's options), so it
is always the config this evfer reads. KEY narrows it: a group (`train`), a key (`train.select`) or
a source kind's options (`data.sources.ckplus`). --markdown prints docs/config.md.
"""

from __future__ import annotations

ORDER = 35


def arguments(p) -> None:
    p.add_argument("key", nargs="?", metavar="KEY",
                   help="a group or key, e.g. train, train.select, data.sources.videos (default: all keys)")
    p.add_argument("--markdown", action="store_true", help="the whole reference as Markdown (docs/config.md)")


def run(args) -> int:
    from ..reference import markdown, text

    print(markdown() if args.markdown else text(args.key))
    return 0
