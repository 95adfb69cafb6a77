"""Publish the monthly report: run the notebook with papermill, convert it to one offline HTML.

Publishing is safe to schedule: output is written to a temporary directory beside the target
and renamed into place, so readers never see a half-written page; a failed run exits with an
error, keeps the previous good report and saves the failed notebook (error cell visible)
beside it; a lock serialises two runs for the same month and account; re-running a month
replaces its report with an identical one. A run killed outright (SIGKILL) leaves its temporary
folder behind; the next run for that month removes it (:func:`clean_stale_runs`).

Layout: ``<out>/<month>/<account or all>/report.html`` with ``report.ipynb`` (the executed
notebook) and ``report.json`` (totals for the index) beside it, and ``<out>/index.html``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import UsagekitError, display_path

PACKAGE = Path(__file__).resolve().parent
# an installed wheel carries the notebooks as package data (usagekit/notebooks/); a source
# checkout (editable install, PYTHONPATH) has them in the repository's notebooks/ folder
NOTEBOOK_DIRS = (PACKAGE / "notebooks", PACKAGE.parent / "notebooks")
NOTEBOOK = NOTEBOOK_DIRS[0] / "monthly_report.ipynb"
TEMPLATES = PACKAGE / "templates"
log = logging.getLogger(__name__)


class ReportError(UsagekitError):
    """Publishing failed; ``failed_notebook`` is where the executed notebook was saved, if anywhere."""

    def __init__(
        self,
        message: str,
        failed_notebook: Path | None = None,
        internal: bool = False,
        traceback_file: Path | None = None,
    ):
        self.failed_notebook = failed_notebook
        #: the notebook failed on an error that is not a UsagekitError: a bug, not the input
        self.internal = internal
        self.traceback_file = traceback_file  # its traceback, secrets masked (usagekit.crashes)
        super().__init__(message)


@dataclass
class Published:
    html: Path
    notebook: Path
    index: Path
    size_bytes: int
    seconds: float
    summary: dict

    def __str__(self) -> str:
        return (
            f"published {display_path(self.html)} ({self.size_bytes / 1e6:.2f} MB, {self.seconds:.1f} s); "
            f"index {display_path(self.index)}"
        )


def previous_month(today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last:%Y-%m}"


def notebook_path(name: str = "monthly_report.ipynb") -> Path:
    """Where the report notebook is: inside the installed package, else in the source checkout."""
    for folder in NOTEBOOK_DIRS:
        if (folder / name).exists():
            return folder / name
    raise ReportError(
        f"the report notebook {name} is missing (looked in {' and '.join(map(str, NOTEBOOK_DIRS))}); "
        "reinstall usagekit: pip install --force-reinstall 'usagekit[report]'"
    )


@contextlib.contextmanager
def _lock(path: Path, wait_seconds: float = 1800):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    log.warning("waiting: another run is publishing %s", display_path(path.parent))
                    announced = True
                if time.monotonic() > deadline:
                    raise ReportError(
                        f"gave up after {wait_seconds:.0f} s waiting for another run publishing "
                        f"{display_path(path.parent)} (lock {display_path(path)})"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: a run's temporary folder without its owner file yet is left alone this long (it is being made)
STALE_GRACE_SECONDS = 60


def _own(tmp: Path):
    """Mark ``tmp`` as this run's: an exclusive lock on ``tmp/.owner``, held until the run ends
    (the kernel releases it when the process dies, however it dies)."""
    fh = open(tmp / ".owner", "w")
    fcntl.flock(fh, fcntl.LOCK_EX)
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def clean_stale_runs(month_dir: Path) -> list[Path]:
    """Remove the ``.run-*`` temporary folders in ``month_dir`` left by runs that died (killed,
    power cut) and return them. A folder whose run is alive (its owner lock is held) is kept,
    whichever account it publishes; so is one younger than :data:`STALE_GRACE_SECONDS` that has
    no owner file yet."""
    removed = []
    for d in sorted(Path(month_dir).glob(".run-*")):
        if not d.is_dir():
            continue
        try:
            fh = open(d / ".owner", "r+")
        except FileNotFoundError:
            try:
                young = time.time() - d.stat().st_mtime < STALE_GRACE_SECONDS
            except FileNotFoundError:
                continue
            if not young:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
            continue
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run owns it
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def to_html(executed: Path, title: str = "usage report") -> str:
    """The executed notebook as one self-contained HTML page without code cells, titled ``title``."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = blocks_to_cells(nbformat.read(executed, as_version=4))
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="usagekit_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"remove-cell"}, remove_all_outputs_tags={"remove-output"}), enabled=True
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def blocks_to_cells(nb):
    """Give each section block its own cell: a Markdown cell for its title, a code cell for its outputs.

    :func:`usagekit.sections.show` starts every block with a marker output; the page then reads
    as if each section had been written as its own notebook cells (headings are real headings).
    """
    import nbformat

    from .sections import SECTION_MIME

    cells = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        if cell.cell_type != "code" or not any(SECTION_MIME in o.get("data", {}) for o in outputs):
            cells.append(cell)
            continue
        before, blocks = [], []
        for out in outputs:
            marker = out.get("data", {}).get(SECTION_MIME)
            if marker is not None:
                blocks.append((marker, []))
            elif blocks:
                blocks[-1][1].append(out)
            else:
                before.append(out)
        if before:
            cells.append(
                nbformat.v4.new_code_cell(source=cell.source, outputs=before, metadata=cell.metadata, id=f"{cell.id}-0")
            )
        for n, (marker, outs) in enumerate(blocks, start=1):
            if marker.get("title"):
                cells.append(nbformat.v4.new_markdown_cell(f"## {marker['title']}", id=f"{cell.id}-{n}t"))
            if marker.get("result") and len(outs) == 1 and outs[0].output_type == "display_data":
                outs = [
                    nbformat.v4.new_output(
                        "execute_result",
                        data=outs[0].data,
                        metadata=outs[0].metadata,
                        execution_count=cell.execution_count,
                    )
                ]
            cells.append(
                nbformat.v4.new_code_cell(
                    source="",
                    outputs=outs,
                    metadata=cell.metadata,
                    execution_count=cell.execution_count,
                    id=f"{cell.id}-{n}",
                )
            )
    nb.cells = cells
    return nb


def publish(
    month: str | None = None,
    source=None,
    keys=None,
    account_id: str | None = None,
    out="reports",
    tz: str = "UTC",
    as_of: str | None = None,
    progress: bool = True,
    cell_timeout: int = 900,
    sections=None,
) -> Published:
    """Execute the report notebook for ``month`` and publish its HTML; see the module docstring.

    ``source`` is the usage files (the demo month's directory is
    ``usagekit.demo.default_source()``). ``sections`` names the sections to show
    (see :data:`usagekit.sections.SECTIONS`; default all). Returns a :class:`Published`; raises
    :class:`ReportError` (previous report untouched, failed notebook saved) on failure.
    """
    from .extras import require

    pm = require("papermill", "report", "publishing the report")
    for module in ("nbconvert", "ipykernel", "plotly"):
        require(module, "report", "publishing the report")
    from nbclient.exceptions import CellTimeoutError

    from .loading import check_tz
    from .usage import month_range

    month = month or previous_month()
    month_range(month)  # validates YYYY-MM
    check_tz(tz)
    if sections is not None:
        from .sections import select

        sections = ",".join(s.name for s in select(sections))  # unknown names fail here, before any run
    if source is None or source == [] or source == "":
        raise ReportError(
            "no usage data given: pass --source PATH (usage files, a directory or a glob), "
            "or --demo for the built-in demo month"
        )
    sources = [str(Path(s).resolve()) for s in (source if isinstance(source, (list, tuple)) else [source])]
    keys_arg = (
        None
        if keys is None
        else [str(Path(k).resolve()) for k in (keys if isinstance(keys, (list, tuple)) else [keys])]
    )
    out = Path(out)
    target = out / month / (account_id or "all")
    run_id = f"{month}/{account_id or 'all'}@{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    started = time.monotonic()
    with _lock(out / month / f".{account_id or 'all'}.lock"):
        target.mkdir(parents=True, exist_ok=True)
        stale = clean_stale_runs(target.parent)
        if stale and progress:
            print(f"removed {len(stale)} temporary folder(s) left by runs that were killed", flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=".run-", dir=target.parent)).resolve()
        owner = _own(tmp)
        try:
            executed = tmp / "report.ipynb"
            summary_path = tmp / "report.json"
            params = dict(
                month=month,
                source=sources if len(sources) > 1 else sources[0],
                keys=keys_arg,
                account_id=account_id,
                tz=tz,
                as_of=as_of,
                run_id=run_id,
                summary_path=str(summary_path),
                sections=sections,
                colors=str((out / "colors.json").resolve()),
            )
            try:
                pm.execute_notebook(
                    str(notebook_path()),
                    str(executed),
                    parameters=params,
                    kernel_name="python3",
                    progress_bar=progress,
                    execution_timeout=cell_timeout,
                    cwd=str(notebook_path().parent),
                )
            except (pm.PapermillExecutionError, CellTimeoutError, Exception) as exc:  # noqa: BLE001
                if getattr(exc, "ename", None) == "NoDataError":  # an empty month: nothing to publish, nothing broke
                    with contextlib.suppress(OSError):
                        target.rmdir()  # only when this run made it and it is still empty
                    raise ReportError(f"nothing published: {str(getattr(exc, 'evalue', exc)).strip()}") from None
                failed = target / "report.failed.ipynb"
                if executed.exists():
                    os.replace(executed, failed)
                else:
                    failed = None
                where = f"; the failed notebook is saved at {display_path(failed)}" if failed else ""
                what = _describe_failure(exc)
                internal = _is_internal(exc)
                saved = _save_kernel_traceback(exc) if internal else None
                raise ReportError(
                    f"the report for {month} ({account_id or 'all accounts'}) failed: {what}; "
                    f"the previous report (if any) is untouched{where}",
                    failed,
                    internal=internal,
                    traceback_file=saved,
                ) from None
            summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
            html = to_html(executed, title=summary.get("title") or f"Usage report {month}")
            (tmp / "report.html").write_text(html, encoding="utf-8")
            summary.update(
                month=month,
                account=account_id or "all",
                tz=tz,
                run_id=run_id,
                generated_at=f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}",
                size_bytes=len(html.encode()),
            )
            summary_path.write_text(json.dumps(summary, indent=2, default=str))
            for name in ("report.ipynb", "report.json", "report.html"):  # the page last: it is what readers open
                os.replace(tmp / name, target / name)
            with contextlib.suppress(FileNotFoundError):
                (target / "report.failed.ipynb").unlink()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            owner.close()
    index = write_index(out)
    return Published(
        html=target / "report.html",
        notebook=target / "report.ipynb",
        index=index,
        size_bytes=(target / "report.html").stat().st_size,
        seconds=time.monotonic() - started,
        summary=summary,
    )


def _is_internal(exc) -> bool:
    """True when the notebook failed on something other than a UsagekitError (raised in the
    kernel, so only its class name is known here)."""
    name = getattr(exc, "ename", None)
    if name is None:
        return not isinstance(exc, UsagekitError)

    def names(cls):
        out = {cls.__name__}
        for sub in cls.__subclasses__():
            out |= names(sub)
        return out

    return name not in names(UsagekitError)


def _save_kernel_traceback(exc) -> Path | None:
    """The kernel's traceback of a failed cell, saved (secrets masked) like the CLI's own."""
    import re

    from .crashes import save_text

    lines = getattr(exc, "traceback", None) or [str(exc)]
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(str(x) for x in lines))
    try:
        return save_text("report", f"{_describe_failure(exc)}\n\n{text}\n")
    except OSError:
        return None


def _describe_failure(exc) -> str:
    name = getattr(exc, "ename", None) or type(exc).__name__
    value = getattr(exc, "evalue", None) or str(exc)
    cell = getattr(exc, "exec_count", None)
    first = str(value).strip().splitlines()[0] if str(value).strip() else ""
    return f"{name}: {first}" + (f" (cell {cell})" if cell else "")


def write_index(out) -> Path:
    """Regenerate ``<out>/index.html`` listing every published report (atomically)."""
    import jinja2

    from .money import format_usd

    out = Path(out)
    rows = []
    for meta in sorted(out.glob("*/*/report.json"), reverse=True):
        if not (meta.parent / "report.html").exists():
            continue
        try:
            info = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        rows.append(
            {
                "month": info.get("month", meta.parent.parent.name),
                "account": (
                    f"{info['account_name']} ({info.get('account', meta.parent.name)})"
                    if info.get("account_name")
                    else info.get("account", meta.parent.name)
                ),
                "total": format_usd(info.get("total_cents"), precise=False)
                if info.get("total_cents") is not None
                else "-",
                "anomalies": info.get("anomalies", "-"),
                "tz": info.get("tz", "UTC"),
                "generated_at": info.get("generated_at", ""),
                "href": f"{meta.parent.parent.name}/{meta.parent.name}/report.html",
            }
        )
    rows.sort(key=lambda r: (r["month"], r["account"] != "all", r["account"]), reverse=False)
    rows = sorted(rows, key=lambda r: r["month"], reverse=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    page = env.get_template("index.html.j2").render(
        reports=rows, generated=f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}"
    )
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out / "index.html")
    return out / "index.html"
