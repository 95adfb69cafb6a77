"""The one HTML table of usagekit: escaped, styled, sortable, money in dollars, CSV attached.

:func:`html_table` renders a small pandas frame for a person, in the report and in the
explorer alike. Every cell is HTML-escaped; money columns (``*_cents``) are shown in dollars
through :func:`usagekit.money.format_usd` and headed without "cents"; a click on a header
sorts the rows by that column's raw value (numbers as numbers), again to reverse. With
``csv="name.csv"`` a link downloads the same rows as CSV (raw values: money stays in
continuous cents, as machine outputs do). The page needs no script file and no network:
the sorter is an inline handler and the CSV a ``data:`` link, so the table works in a
published report, in JupyterLab output and inside an ipywidgets ``HTML`` widget.

>>> import pandas as pd
>>> html = html_table(pd.DataFrame({"model": ["gpt-4o"], "cost_cents": [19711.4]}), csv="models.csv")
>>> "$197.11" in html and "<th" in html and 'download="models.csv"' in html
True
"""

from __future__ import annotations

import datetime as dt
import html as _html
import io
import math
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import pandas as pd

from .money import format_usd

#: kinds of column :func:`html_table` knows how to show
KINDS = ("text", "money", "int", "number", "percent", "share", "date", "time")

CSS = """<style>
.uk-table{border-collapse:collapse;font:13px/1.35 system-ui,sans-serif;margin:4px 0 8px}
.uk-table caption{caption-side:top;text-align:left;color:#555;padding:2px 0 4px}
.uk-table th{background:#f3f5f8;border-bottom:2px solid #d6dbe3;padding:4px 10px;text-align:left;white-space:nowrap}
.uk-table td{border-bottom:1px solid #eceff3;padding:3px 10px;vertical-align:top}
.uk-table tbody tr:nth-child(even){background:#fafbfc}.uk-table tbody tr:hover{background:#eef4fb}
.uk-table td.n,.uk-table th.n{text-align:right;font-variant-numeric:tabular-nums}
.uk-table.sortable th{cursor:pointer;user-select:none}
.uk-table th[aria-sort=ascending]::after{content:" \\25B2";font-size:75%}
.uk-table th[aria-sort=descending]::after{content:" \\25BC";font-size:75%}
.uk-csv{font:12px system-ui,sans-serif;margin:0 0 10px}
</style>"""

# Sorts the clicked column by each cell's data-v (numbers numerically), empty cells last.
# An inline handler on <thead>, so it runs where <script> tags do not (ipywidgets HTML).
_SORT_JS = (
    "var th=event.target.closest('th');if(!th)return;var b=th.closest('table').tBodies[0],i=th.cellIndex,"
    "num=th.classList.contains('n'),d=th.getAttribute('aria-sort')==='ascending'?-1:1;"
    "Array.prototype.forEach.call(th.parentNode.cells,function(c){c.removeAttribute('aria-sort')});"
    "th.setAttribute('aria-sort',d>0?'ascending':'descending');"
    "var r=Array.prototype.slice.call(b.rows);r.sort(function(x,y){"
    "var p=x.cells[i].getAttribute('data-v'),q=y.cells[i].getAttribute('data-v');"
    "if(!p)return q?1:0;if(!q)return -1;"
    "return d*(num?parseFloat(p)-parseFloat(q):p.localeCompare(q,undefined,{numeric:true}));});"
    "r.forEach(function(x){b.appendChild(x)});"
)


def esc(text) -> str:
    """HTML-escape any value for a page (quotes too, so it is safe inside attributes)."""
    return _html.escape("" if text is None else str(text), quote=True)


def _missing(v) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


def header_for(column: str) -> str:
    """A person's header for a column name: ``cost_cents`` -> ``cost``, ``key_name`` -> ``key name``."""
    name = column[:-6] if column.endswith("_cents") else column
    return name.replace("_", " ")


def kind_of(column: str, series: pd.Series) -> str:
    """The display kind :func:`html_table` infers for a column (see :data:`KINDS`)."""
    if column.endswith("_cents"):
        return "money"
    if column == "share":
        return "share"
    if column.startswith("pct") or column.endswith("_pct"):
        return "percent"
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "time"
    sample = series.dropna()
    if len(sample) and isinstance(sample.iloc[0], dt.date) and not isinstance(sample.iloc[0], dt.datetime):
        return "date"
    if len(sample) and isinstance(sample.iloc[0], (dt.datetime, pd.Timestamp)):
        return "time"
    return "text"


def format_cell(value, kind: str) -> tuple[str, str, bool]:
    """``(shown text, sort value, numeric)`` of one cell; the text is not yet escaped."""
    if _missing(value):
        return ("unpriced" if kind == "money" else "-"), "", kind not in ("text", "date", "time")
    if kind == "money":
        return format_usd(float(value)), repr(float(value)), True
    if kind == "int":
        return f"{int(value):,}", str(int(value)), True
    if kind == "number":
        v = float(value)
        return (f"{v:,.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.2g}"), repr(v), True
    if kind == "percent":
        return f"{float(value):.1f}%", repr(float(value)), True
    if kind == "share":
        return f"{float(value):.1%}", repr(float(value)), True
    if kind == "time":
        t = pd.Timestamp(value)
        text = f"{t:%Y-%m-%d %H:%M:%S}" + (f" {t.tzname()}" if t.tzinfo is not None else "")
        return text, t.isoformat(), False
    if kind == "date":
        return f"{value:%Y-%m-%d}", value.isoformat(), False
    return str(value), str(value), False


def csv_link(df: pd.DataFrame, filename: str, label: str | None = None) -> str:
    """A link that downloads ``df`` as CSV, the data inside the link (offline, self-contained)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    href = "data:text/csv;charset=utf-8," + quote(buf.getvalue())
    text = label or f"Download CSV ({len(df):,} row{'s' if len(df) != 1 else ''})"
    return f'<div class="uk-csv"><a download="{esc(filename)}" href="{esc(href)}">{esc(text)}</a></div>'


def html_table(
    df: pd.DataFrame,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    kinds: Mapping[str, str] | None = None,
    caption: str | None = None,
    csv: str | None = None,
    sortable: bool = True,
    max_rows: int | None = None,
    empty: str = "no rows",
    css: bool = True,
    table_class: str = "",
) -> str:
    """``df`` as one escaped, styled HTML table (an HTML string).

    ``columns``: which columns to show, in order, as a list (headers from :func:`header_for`)
    or a ``{column: header}`` mapping. ``kinds`` overrides the inferred display kind of a
    column (one of :data:`KINDS`; ``*_cents`` columns are money, integer columns counts,
    ``share`` a 0-1 fraction, ``pct*`` a 0-100 percentage). ``caption`` goes above the
    table; ``csv`` (a file name) adds a download link of the shown columns' raw values,
    every row; ``max_rows`` shows only the first rows and says so. ``css=False`` leaves
    out the style block (a page that already has it).
    """
    if columns is None:
        columns = list(df.columns)
    headers = dict(columns) if isinstance(columns, Mapping) else {c: header_for(c) for c in columns}
    missing = [c for c in headers if c not in df.columns]
    if missing:
        raise KeyError(f"html_table: no column {missing[0]!r}; the frame has: {', '.join(map(str, df.columns))}")
    kinds = dict(kinds or {})
    bad = [k for k in kinds.values() if k not in KINDS]
    if bad:
        raise ValueError(f"html_table: unknown kind {bad[0]!r}; expected one of: {', '.join(KINDS)}")
    col_kind = {c: kinds.get(c) or kind_of(c, df[c]) for c in headers}
    style = CSS if css else ""
    if df.empty:
        return f"{style}<p class='uk-empty'><i>{esc(empty)}</i></p>"
    shown = df if max_rows is None else df.head(max_rows)
    numeric = {c: col_kind[c] in ("money", "int", "number", "percent", "share") for c in headers}
    head = "".join(f"<th scope='col'{' class=n' if numeric[c] else ''}>{esc(h)}</th>" for c, h in headers.items())
    body = []
    for rec in shown[list(headers)].itertuples(index=False, name=None):
        cells = []
        for c, v in zip(headers, rec):
            text, key, num = format_cell(v, col_kind[c])
            cells.append(f'<td{" class=n" if num else ""} data-v="{esc(key)}">{esc(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    note = caption or ""
    if max_rows is not None and len(df) > max_rows:
        note = (note + " · " if note else "") + f"first {max_rows:,} of {len(df):,} rows"
    cap = f"<caption>{esc(note)}</caption>" if note else ""
    classes = " ".join(x for x in ("uk-table", "sortable" if sortable else "", table_class) if x)
    handler = f' onclick="{esc(_SORT_JS)}" title="click a header to sort"' if sortable else ""
    table = (
        f'<table class="{esc(classes)}">{cap}<thead{handler}><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    link = csv_link(df[list(headers)], csv) if csv else ""
    return f"{style}{table}{link}"


__all__ = ["html_table", "csv_link", "esc", "header_for", "kind_of", "format_cell", "CSS", "KINDS"]
