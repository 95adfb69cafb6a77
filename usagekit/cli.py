"""The ``usagekit`` command: a thin shell over the library.

Exit codes, for every command: 0 success; 1 the command ran but found problems (``check``:
rows rejected; ``anomalies``: a finding at ``--fail-on``); 2 unusable input or a usage error
(the message says what to do); 70 an internal error (a bug in usagekit: one line names it and
the file its traceback was saved to, see :mod:`usagekit.crashes`). ``report`` exits 0 once
the page is published, rejected rows or not (a line says how many), and non-zero only when
nothing was published.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UsagekitError, display_path

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 70


def _store_args(args) -> dict:
    return {"store": False if args.no_store else None, "rehash": args.rehash}


def _add_store_options(p) -> None:
    p.add_argument(
        "--rehash",
        action="store_true",
        help="hash every input file whole to decide whether the validated store still holds it "
        "(default: size, modification time and the first and last 64 KiB)",
    )
    p.add_argument(
        "--no-store",
        action="store_true",
        help="validate everything again and keep nothing (default: the store named by USAGEKIT_STORE, "
        "else the user's cache directory)",
    )


def _month(text: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a month; write it as YYYY-MM, e.g. 2026-10")
    return text


def _as_of(text: str) -> str:
    import pandas as pd

    try:
        pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a time; write an ISO timestamp such as "
            "2026-10-20T12:00:00Z, or a date (the end of that day)"
        ) from None
    return text


def cmd_check(args) -> int:
    from .loading import load

    usage = load(args.source, keys=args.keys, format=args.format, progress=True, **_store_args(args))
    print(usage.load_report.details())
    print()
    print(usage.summary())
    n_bad = usage.load_report.rejected + usage.load_report.duplicates
    if n_bad:
        out = usage.write_rejected(args.rejected)
        print(
            f"\n{n_bad:,} rows not kept ({usage.load_report.rejected:,} rejected, "
            f"{usage.load_report.duplicates:,} duplicates) written to {display_path(out)}"
        )
        return EXIT_PROBLEMS if usage.load_report.rejected else EXIT_OK
    print("\nall rows kept.")
    return EXIT_OK


def cmd_demo_data(args) -> int:
    from .demo import generate

    result = generate(
        args.out,
        month=args.month,
        requests=args.requests,
        seed=args.seed,
        history_months=args.history_months,
        progress=not args.quiet,
    )
    print(result.summary())
    if args.check:
        from .loading import load

        usage = load(Path(args.out))
        print()
        print(usage.load_report.details())
    return EXIT_OK


def cmd_anomalies(args) -> int:
    import json

    from .anomalies import detect
    from .loading import load
    from .months import default_month, require_data

    usage = load(args.source, keys=args.keys, tz=args.tz, **_store_args(args))
    month = args.month
    if month is None:
        choice = default_month(usage)
        month = choice.month
        print(f"checking {choice}; pass --month to choose", file=sys.stderr if args.json else sys.stdout)
    require_data(usage, month)
    found = detect(usage, month=month, as_of=args.as_of)
    if args.json:
        records = []
        for row in found.drop(columns=["series"]).to_dict(orient="records"):
            records.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
        print(
            json.dumps(
                {
                    "month": found.attrs.get("month", month),
                    "tz": usage.tz,
                    "as_of": str(found.attrs.get("as_of", "")),
                    "findings": records,
                },
                indent=2,
                default=str,
            )
        )
    elif found.empty:
        print(f"no anomalies found in {month} (days in {usage.tz}).")
    else:
        from .masking import display as mask_key
        from .money import format_usd

        print(f"{len(found)} finding(s), days in {usage.tz}:\n")
        for r in found.itertuples():
            if r.key_id is None or r.key_id != r.key_id:  # a note about the month, not about one key
                print(f"[{r.severity}] {r.kind:<8} {r.day}")
            else:
                print(
                    f"[{r.severity}] {r.kind:<8} {r.day}  {r.key_name} ({mask_key(r.key_id)}, account "
                    f"{r.account_id})  observed {format_usd(r.observed_cents)}"
                )
            print(f"    {r.explanation}")
            print(f"    next: {r.action}\n")
    delivered_ok = True
    if args.notify:
        from . import notify

        month = found.attrs.get("month", args.month)
        state = args.state or Path("reports") / notify.STATE_NAME
        link = notify.report_link(args.report_url, month, None, Path(state).parent / month / "all" / "report.html")
        alerts = notify.finding_alerts(found, link) + notify.cap_alerts(usage, month, as_of=args.as_of, link=link)
        delivery = notify.deliver(alerts, args.notify, state)
        print(delivery, file=sys.stderr if args.json else sys.stdout)
        delivered_ok = delivery.ok
    bad = found[found["severity"].isin(_SEVERITIES[_SEVERITIES.index(args.fail_on) :])] if args.fail_on else found[:0]
    return EXIT_PROBLEMS if len(bad) or not delivered_ok else EXIT_OK


_SEVERITIES = ["info", "warning", "critical"]


def cmd_report(args) -> int:
    from .report import publish

    if args.demo and args.source:
        raise UsagekitError("pass either --demo or --source, not both")
    if not args.demo and not args.source:
        raise UsagekitError(
            "no usage data given: pass --source PATH (usage files, a directory or a glob), "
            "or --demo for the built-in demo month"
        )
    source, month = args.source, args.month
    if args.demo:
        from .demo import DEFAULT_MONTH, default_source

        month = month or DEFAULT_MONTH
        source = default_source(month)
    published = publish(
        month=month,
        source=source,
        keys=args.keys,
        account_id=args.account,
        out=args.out,
        tz=args.tz,
        as_of=args.as_of,
        progress=not args.quiet,
        sections=args.sections,
    )
    print(published)
    print(f"report: {published.html.resolve()}")
    print(f"index:  {published.index.resolve()}")
    rejected = published.summary.get("rejected_rows")
    if rejected:
        print(
            f"note: {rejected:,} input rows were rejected while loading; the report's data-quality section "
            "lists why (usagekit check SOURCE writes them to a CSV)"
        )
    elif rejected == 0:
        print("no input rows were rejected.")
    if args.notify:
        from . import notify

        link = notify.report_link(args.report_url, published.summary["month"], args.account, published.html)
        alerts = [notify.Alert(**{**a, "link": link}) for a in published.summary.get("alerts", [])]
        delivery = notify.deliver(alerts, args.notify, args.state or Path(args.out) / notify.STATE_NAME)
        print(delivery)
        if not delivery.ok:
            return EXIT_PROBLEMS
    return EXIT_OK


def cmd_export(args) -> int:
    from .export import export
    from .loading import load

    usage = load(args.source, keys=args.keys)
    print(export(usage, args.month, args.format, args.out, account_id=args.account))
    return EXIT_OK


def _add_notify_options(p: argparse.ArgumentParser, state_default: str) -> None:
    g = p.add_argument_group("alerts (pip install 'usagekit[alerts]')")
    g.add_argument(
        "--notify",
        action="append",
        metavar="URL",
        help="send each warning/critical finding and each cap crossing (80%%, 100%%) once to this "
        "apprise URL: json://host/path, mmost://host/token, slack://..., msteams://..., "
        "mailto://user:pass@smtp.host?to=... (repeatable; failed deliveries are retried next run "
        "and make the exit code 1)",
    )
    g.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help=f"the alert state file remembering what was sent (default {state_default})",
    )
    g.add_argument(
        "--report-url",
        metavar="BASE",
        help="where the reports are served, for the link in each alert (default: the page's file path)",
    )


def cmd_fetch(args) -> int:
    from .fetch_admin import fetch

    result = fetch(
        args.provider,
        args.since,
        args.until,
        args.out,
        base_url=args.base_url,
        deadline=args.deadline,
        timeout=args.timeout,
        retries=args.retries,
        progress=not args.quiet,
    )
    print(result)
    if result.files:
        print(f"load them with: usagekit check {display_path(args.out)}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usagekit",
        description="Turn LLM-gateway usage data into answers: validate exports, build demo data, "
        "query spend per key, model and day.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"usagekit {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more to stderr (-v info, -vv debug; secrets are never logged)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from .sources import format_names

    p = sub.add_parser(
        "check",
        help="validate usage files and print the row accounting",
        description="Read SOURCE (a file, directory, glob or several), validate every row and "
        "print per file: rows read, kept, rejected (by reason), duplicates dropped, "
        "and the time span. Rejected rows are written to a CSV file. Exit code 1 "
        "when rows were rejected, 2 when the input cannot be used.",
    )
    p.add_argument("source", nargs="+", help="usage file(s), directory or glob")
    p.add_argument("--keys", action="append", help="key registry file (repeatable)")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", *format_names()],
        help="input format (default: detect from content)",
    )
    p.add_argument(
        "--rejected",
        default="rejected-rows.csv",
        metavar="PATH",
        help="where to write rows that were not kept (default: %(default)s)",
    )
    _add_store_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "demo-data",
        help="write a deterministic, realistic demo month",
        description="Write a demo month of usage (Parquet per day), its key registry (keys.csv) "
        "and the truth of its planted anomalies (labels.json).",
    )
    p.add_argument("--month", type=_month, default="2026-10", help="month to generate, YYYY-MM (default %(default)s)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--requests", type=int, default=300_000, help="LLM+voice requests in the month (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    p.add_argument(
        "--history-months", type=int, default=1, help="full months of history before MONTH (default %(default)s)"
    )
    p.add_argument("--check", action="store_true", help="load the result back and print the row accounting")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo_data)
    p = sub.add_parser(
        "anomalies",
        help="find leaked-key spikes, keys heading for their cap, runaway days",
        description="Detect anomalies in one month of SOURCE and print them with an explanation and "
        "the recommended next step. Exit code 1 when a finding reaches --fail-on.",
    )
    p.add_argument("source", nargs="+", help="usage file(s), directory or glob")
    p.add_argument("--keys", action="append", help="key registry file (caps live there)")
    p.add_argument(
        "--month",
        type=_month,
        help="month to check, YYYY-MM (default: the current month in --tz, or "
        "the latest month with data when the current one has none); "
        "a month without data exits 2",
    )
    p.add_argument(
        "--as-of", type=_as_of, help="only use data before this time (ISO timestamp, or a date = end of that day)"
    )
    p.add_argument("--tz", default="UTC", help="time zone days are bucketed in (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--fail-on", choices=_SEVERITIES, help="exit 1 when a finding of this severity or worse exists")
    _add_store_options(p)
    _add_notify_options(p, "reports/alerts-state.json")
    p.set_defaults(func=cmd_anomalies)

    p = sub.add_parser(
        "report",
        help="publish the monthly HTML report (papermill + nbconvert)",
        description="Execute notebooks/monthly_report.ipynb for MONTH and publish one self-contained "
        "HTML page (no code, no network) to OUT/<month>/<account or all>/report.html, then "
        "regenerate OUT/index.html. A failed run exits non-zero, keeps the previous report "
        "and saves the failed notebook beside it.",
    )
    p.add_argument("--month", type=_month, help="YYYY-MM (default: the previous full month; 2026-10 with --demo)")
    p.add_argument("--source", nargs="+", help="usage file(s), directory or glob")
    p.add_argument("--keys", action="append", help="key registry file")
    p.add_argument("--account", help="publish for one account only (its rows and keys, nothing else)")
    p.add_argument("--out", default="reports", type=Path, help="output directory (default %(default)s)")
    p.add_argument("--tz", default="UTC", help="time zone days are bucketed in (default %(default)s)")
    p.add_argument("--as-of", type=_as_of, help="only data before this time (a replay of a scheduled run)")
    p.add_argument("--demo", action="store_true", help="use the built-in demo data")
    p.add_argument(
        "--sections",
        metavar="A,B,...",
        help="only these sections, shown in report order (default all: headline, keys, daily, breakdowns, "
        "anomalies, invoice, data-quality, method)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_notify_options(p, "OUT/alerts-state.json")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "export",
        help="write a month as FinOps FOCUS 1.2 rows, or the normalized rows as CSV/Parquet",
        description="Write MONTH (UTC) of SOURCE to OUT. focus: FOCUS 1.2 rows (one per UTC day, "
        "account, key, provider, model; every mandatory column; CSV, or Parquet when OUT "
        "ends in .parquet); unpriced usage goes in rows of its own with cost 0 and "
        "x_Unpriced=true. csv / parquet: usagekit's normalized rows. Every export "
        "loads back with usagekit to the same totals.",
    )
    p.add_argument("--format", required=True, choices=["focus", "csv", "parquet"], help="output format")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.add_argument("--source", required=True, nargs="+", help="usage file(s), directory or glob")
    p.add_argument("--keys", action="append", help="key registry file")
    p.add_argument("--account", help="only this account's rows")
    p.add_argument("--out", required=True, type=Path, help="output file")
    p.set_defaults(func=cmd_export)

    from .fetch_admin import KEY_VARS, PROVIDERS

    keys_help = "; ".join(f"{p}: {' or '.join(v)}" for p, v in KEY_VARS.items())
    p = sub.add_parser(
        "fetch",
        help="pull a provider's or gateway's cost/usage API into files (for scheduled runs)",
        description="Fetch the admin cost and usage APIs for the days SINCE (inclusive) to UNTIL "
        "(exclusive) into OUT: OpenAI costs and usage pages, the Anthropic cost report, "
        "OpenRouter activity, LiteLLM /spend/logs and key list. Pages are followed, "
        "failed requests retried with backoff, and the whole fetch stops at --deadline. "
        f"The key is read from the environment ({keys_help}) and never printed or "
        "written. The files load with `usagekit check OUT` / usagekit.load(OUT).",
    )
    p.add_argument("provider", choices=PROVIDERS, help="which API to pull")
    p.add_argument("--since", required=True, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--until", help="day after the last one, YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--out", required=True, type=Path, help="directory to write the pages into")
    p.add_argument(
        "--base-url", help="API address (default: the provider's; required for litellm, or set LITELLM_BASE_URL)"
    )
    p.add_argument("--deadline", type=float, default=600, help="seconds the whole fetch may take (default %(default)s)")
    p.add_argument("--timeout", type=float, default=60, help="seconds one request may take (default %(default)s)")
    p.add_argument("--retries", type=int, default=5, help="retries per request (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no per-page progress lines")
    p.set_defaults(func=cmd_fetch)
    return parser


def _setup_logging(verbosity: int) -> None:
    """Library messages go through :mod:`logging` to stderr (warnings by default; -v info, -vv debug)."""
    import logging

    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    if not any(getattr(h, "_usagekit", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("usagekit: %(levelname)s: %(name)s: %(message)s"))
        handler._usagekit = True
        root.addHandler(handler)
    root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if getattr(args, "source", None) and len(args.source) == 1:
        args.source = args.source[0]
    return run_command(args)


def run_command(args) -> int:
    """Run a parsed command; the one place where a failure becomes an exit code (see the module
    docstring). Commands return 0 or 1 themselves."""
    try:
        return args.func(args)
    except UsagekitError as exc:
        from .masking import redact_text

        if getattr(exc, "internal", False):  # a report notebook that failed on a bug, not on the input
            saved = getattr(exc, "traceback_file", None)
            where = f"; the traceback is saved in {saved}" if saved else ""
            print(
                f"usagekit {args.command}: internal error: {redact_text(str(exc))}; this is a bug in usagekit, "
                f"please report it with the saved traceback{where}",
                file=sys.stderr,
            )
            return EXIT_INTERNAL
        print(f"usagekit {args.command}: error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line and a saved traceback, never the traceback
        from .crashes import one_line, save_traceback

        try:
            where = f"the traceback is saved in {save_traceback(args.command, exc)}"
        except OSError as err:
            where = f"the traceback could not be saved ({err})"
        print(
            f"usagekit {args.command}: internal error: {one_line(exc)}; this is a bug in usagekit, please "
            f"report it with the saved traceback; {where}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
