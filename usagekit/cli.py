"""The ``usagekit`` command: a thin shell over the library.

Exit codes: 0 success; 1 the command ran but found problems (rows rejected, anomalies at
``--fail-on``); 2 unusable input or a usage error (the message says what to do).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UsagekitError, display_path

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


def _month(text: str) -> str:
    import re
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a month; write it as YYYY-MM, e.g. 2026-10")
    return text


def cmd_check(args) -> int:
    from .load import load
    usage = load(args.source, keys=args.keys, format=args.format, progress=True)
    print(usage.load_report)
    print()
    print(usage.summary())
    n_bad = usage.load_report.rejected + usage.load_report.duplicates
    if n_bad:
        out = usage.write_rejected(args.rejected)
        print(f"\n{n_bad:,} rows not kept ({usage.load_report.rejected:,} rejected, "
              f"{usage.load_report.duplicates:,} duplicates) written to {display_path(out)}")
        return EXIT_PROBLEMS if usage.load_report.rejected else EXIT_OK
    print("\nall rows kept.")
    return EXIT_OK


def cmd_demo_data(args) -> int:
    from .demo import generate
    result = generate(args.out, month=args.month, requests=args.requests, seed=args.seed,
                      history_months=args.history_months, progress=not args.quiet)
    print(result.summary())
    if args.check:
        from .load import load
        usage = load(Path(args.out))
        print()
        print(usage.load_report)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usagekit",
        description="Turn LLM-gateway usage data into answers: validate exports, build demo data, "
                    "query spend per key, model and day.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"usagekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from .sources import format_names
    p = sub.add_parser("check", help="validate usage files and print the row accounting",
                       description="Read SOURCE (a file, directory, glob or several), validate every row and "
                                   "print per file: rows read, kept, rejected (by reason), duplicates dropped, "
                                   "and the time span. Rejected rows are written to a CSV file. Exit code 1 "
                                   "when rows were rejected, 2 when the input cannot be used.")
    p.add_argument("source", nargs="+", help="usage file(s), directory or glob")
    p.add_argument("--keys", action="append", help="key registry file (repeatable)")
    p.add_argument("--format", default="auto", choices=["auto", *format_names()],
                   help="input format (default: detect from content)")
    p.add_argument("--rejected", default="rejected-rows.csv", metavar="PATH",
                   help="where to write rows that were not kept (default: %(default)s)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo-data", help="write a deterministic, realistic demo month",
                       description="Write a demo month of usage (Parquet per day), its key registry (keys.csv) "
                                   "and the truth of its planted anomalies (labels.json).")
    p.add_argument("--month", type=_month, default="2026-10", help="month to generate, YYYY-MM (default %(default)s)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--requests", type=int, default=300_000, help="LLM+voice requests in the month (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    p.add_argument("--history-months", type=int, default=1,
                   help="full months of history before MONTH (default %(default)s)")
    p.add_argument("--check", action="store_true", help="load the result back and print the row accounting")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "source", None) and len(args.source) == 1:
        args.source = args.source[0]
    try:
        return args.func(args)
    except UsagekitError as exc:
        print(f"usagekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:  # argument values the library refused (e.g. a bad month)
        print(f"usagekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
