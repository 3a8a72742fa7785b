"""The ``evfer`` command: one sub-command per module in this package.

Module ``evfer/cli/<name>.py`` is the sub-command ``name``: its docstring's first line is the
command's one-line help and the rest its description; it defines ``ORDER`` (position in ``--help``),
``arguments(parser)`` and ``run(args) -> int | None``. Heavy imports (torch, faery) happen inside
``run`` so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from ..errors import EvferError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evfer",
        description="Event-based facial expression recognition: read and emulate events, "
        "prepare datasets, train and evaluate a CNN + LSTM recognizer.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
               if not info.name.startswith("_")]
    for mod in sorted(modules, key=lambda m: (m.ORDER, m.__name__)):
        help_line, _, description = mod.__doc__.strip().partition("\n")
        # argparse %-formats help strings, and descriptions only when they hold "%(prog)"
        command = sub.add_parser(mod.__name__.rpartition(".")[2], help=help_line.replace("%", "%%"),
                                 description=" ".join(description.split()))
        mod.arguments(command)
        command.set_defaults(func=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value config overrides may also follow options (`train CFG --quiet train.epochs=3`)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = args.func(args)
    except EvferError as exc:
        if args.debug:
            raise
        print(f"evfer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evfer: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # unexpected: still one line unless --debug
        if args.debug:
            raise
        print(
            f"evfer: internal error: {type(exc).__name__}: {exc} (re-run with --debug for a traceback)",
            file=sys.stderr,
        )
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
