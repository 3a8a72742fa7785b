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

from ..errors import EvferError, did_you_mean


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``evfer`` parser; with ``only``, the arguments of that command alone are built (a command's
    arguments may name a registry's entries, which imports its stage)."""
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
        if only is None or only == command.prog.rpartition(" ")[2]:
            mod.arguments(command)
        command.set_defaults(func=mod.run)
    return parser


def commands(parser: argparse.ArgumentParser) -> list[str]:
    """The sub-command names of ``parser``."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=first or "")
    names = commands(parser)
    if first is not None and first not in names:  # argparse would list every command without a hint
        parser.error(f"unknown command '{first}'{did_you_mean(first, names)} (commands: {', '.join(names)})")
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
        sys.stdout.flush()  # a reader that went away shows here, not at exit
    except EvferError as exc:
        if args.debug:
            raise
        print(f"evfer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evfer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`evfer info --json x | head`): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return 141
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
