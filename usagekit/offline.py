"""A plotly renderer for reports that must open from disk with no network.

plotly's ``notebook`` renderer embeds plotly.js (4.8 MB) once, but every figure it renders
also asks a CDN for MathJax, and the library alone is nearly the whole page budget. This
renderer embeds plotly.js once, gzip-compressed (about 1.9 MB as base64), unpacks it in the
browser with the built-in ``DecompressionStream`` and draws every figure from its JSON once
the library is ready. Figures never load anything from the network, and their data is
passed to ``Plotly.newPlot`` as JSON, never executed.

Use it in a report notebook::

    from usagekit.offline import use_offline_renderer
    use_offline_renderer()
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from functools import lru_cache

NAME = "usagekit_offline"


@lru_cache(maxsize=1)
def plotly_js_gzip_b64() -> str:
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def loader_html() -> str:
    """The one script that unpacks plotly.js and draws queued figures (once per page)."""
    return f"""<script type="text/javascript">
window.PlotlyConfig = {{MathJaxConfig: 'local'}};
window.ukPlotly = window.ukPlotly || [];
(function () {{
  if (window.ukLoading) return;
  window.ukLoading = true;
  var b64 = "{plotly_js_gzip_b64()}";
  var raw = atob(b64), bytes = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (code) {{
    (0, eval)(code);
    window.ukRender = function () {{
      while (window.ukPlotly.length) {{
        var item = window.ukPlotly.shift();
        var el = document.getElementById(item[0]);
        if (el) window.Plotly.newPlot(el, item[1].data, item[1].layout, item[2]);
      }}
    }};
    window.ukRender();
  }});
}})();
</script>"""


def _safe_json(obj) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    # no way out of the <script> element whatever the strings hold
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def figure_html(fig, height: int | None = None) -> str:
    """A figure as a div plus a script that queues it for drawing (no library, no network)."""
    from plotly.io import to_json

    fig_json = to_json(fig, validate=False, remove_uids=True)
    h = height or (fig.layout.height if getattr(fig, "layout", None) is not None and fig.layout.height else 450)
    div_id = f"uk-{uuid.uuid4().hex[:12]}"
    config = json.dumps({"responsive": True, "displaylogo": False})
    return (
        f'<div id="{div_id}" class="plotly-graph-div uk-figure" style="height:{int(h)}px;width:100%"></div>'
        f'<script type="text/javascript">(window.ukPlotly = window.ukPlotly || []).push(["{div_id}", '
        f"{_safe_json(fig_json)}, {config}]); if (window.ukRender) window.ukRender();</script>"
    )


def use_offline_renderer() -> None:
    """Make plotly figures display through this renderer (and put the loader in this output)."""
    import plotly.io as pio
    from plotly.io._base_renderers import HtmlRenderer

    class OfflineRenderer(HtmlRenderer):
        def __init__(self):
            super().__init__(connected=False, full_html=False, global_init=True, include_plotlyjs=False)

        def activate(self):
            from IPython.display import HTML, display

            display(HTML(loader_html()))

        def to_mimebundle(self, fig_dict):
            import plotly.graph_objects as go

            return {"text/html": figure_html(go.Figure(fig_dict))}

    pio.renderers[NAME] = OfflineRenderer()
    pio.renderers.default = NAME
