"""Optional dependencies, imported when a feature first needs them.

``pip install usagekit`` brings only what :func:`usagekit.load` and the queries need; each
other feature names the extra that brings its libraries::

    pip install 'usagekit[report]'    # usagekit report: papermill, nbconvert, ipykernel, plotly
    pip install 'usagekit[notebook]'  # usagekit.explore in JupyterLab: jupyterlab, ipywidgets, plotly, anywidget
    pip install 'usagekit[duckdb]'    # load(..., engine="duckdb")
    pip install 'usagekit[spark]'     # load(..., engine="spark") (and a Java 17 runtime)
    pip install 'usagekit[alerts]'    # --notify: webhooks, Slack, Teams, e-mail (apprise)
    pip install 'usagekit[all]'       # everything above

>>> from usagekit.extras import require
>>> require("json", "report", "a test").dumps([1])
'[1]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming ``pip install 'usagekit[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and not module.startswith(exc.name.split(".")[0]):
            raise  # the module is there but one of its own imports failed: not a missing extra
        raise MissingExtraError(feature, module, extra) from None
