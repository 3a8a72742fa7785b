"""format, sensor size, event count, duration, rate and polarity balance of an event file

Describe an event file in any format evfer reads (listed below). Reads the whole
file once, in bounded memory, and checks it like any reader would; the "checks" line says what was
checked and which damage the format cannot reveal (a file that passes was checked, not proven
intact).
"""

from __future__ import annotations

import json

from ._args import add, formats_epilog

ORDER = 10


def arguments(p) -> None:
    p.epilog = formats_epilog()
    p.add_argument("file", help="event file")
    add(p, "json", "sensor-size")


def format_probe(pr) -> str:
    """The human-readable table for a :class:`evfer.io.Probe`."""
    rows = [
        ("file", pr.path),
        ("format", pr.description),
        ("sensor", f"{pr.width} x {pr.height} px (from {pr.geometry_source}"
         + (f": {pr.geometry_detail})" if pr.geometry_detail else ")")),
    ]  # fmt: skip
    if pr.geometry_warning:
        rows.append(("WARNING", f"{pr.geometry_warning}; pass --sensor-size WxH"))
    rows += [("WARNING", warning) for warning in pr.warnings]
    rows.append(("events", f"{pr.n_events:,}"))
    if pr.n_events:
        rows += [
            ("time", f"{pr.t_first:,} .. {pr.t_last:,} µs"),
            ("duration", f"{pr.duration_us / 1e6:.6f} s"),
            ("rate", "n/a (zero duration)" if pr.event_rate is None else f"{pr.event_rate / 1e6:.4g} Mev/s"),
            ("polarity", f"ON {pr.on_fraction:.1%} / OFF {1 - pr.on_fraction:.1%}"),
        ]
    rows.append(("file size", f"{pr.file_bytes:,} bytes"))
    if pr.checks:
        rows.append(("checks", "; ".join(pr.checks) + (f" ({pr.undetectable})" if pr.undetectable else "")))
    for key, value in pr.meta.items():
        rows.append((f"meta.{key}", json.dumps(value, default=str) if not isinstance(value, str) else value))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def run(args) -> int:
    from ..atomic import json_default
    from ..io import probe

    pr = probe(args.file, sensor_size=args.sensor_size)
    if args.json:
        print(json.dumps(pr.to_dict(), default=json_default, indent=2))
    else:
        print(format_probe(pr))
    return 0
