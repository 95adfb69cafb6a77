"""A throwaway JupyterLab server for the browser tests and the browser benchmark.

``running_lab(work, state)`` starts ``jupyter lab`` on 127.0.0.1 with a random token, serving
``work``, its config, runtime, settings and workspace directories under ``state`` (so a user's
own JupyterLab settings never apply), and stops it on exit. The news toast ("get notified about
Jupyter news?") is switched off: it pops up late over the chart's lower right corner, hiding bars
and taking clicks meant for them.

>>> with running_lab(Path("work"), Path("state")) as (base, token):  # doctest: +SKIP
...     page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_lab(work: Path, state: Path, start_timeout: float = 120) -> Iterator[tuple[str, str]]:
    """Yield ``(base URL, token)`` of a JupyterLab serving ``work``; stopped on exit. Raises
    ``RuntimeError`` with the end of its log when it does not answer within ``start_timeout``."""
    port, token = free_port(), secrets.token_hex(16)
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(state / "rt"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "ws"),
    }
    log_path = state / "lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={work}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--allow-root",
            ],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + start_timeout
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise RuntimeError(f"jupyter lab did not start: {log_path.read_text()[-2000:]}") from None
                    time.sleep(0.5)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
