"""Fixtures for the browser test: one JupyterLab server and one headless Chromium per session.

The server runs from this interpreter's environment (the venv), on a free loopback port, with no
token, at the smoke profile; Chromium is Debian's /usr/bin/chromium driven by Playwright (the pip
package's own driver; no browser is ever downloaded). Both are torn down at the end of the session.

Without Playwright or Chromium the browser tests are skipped, unless MEMVAE_BROWSER_REQUIRED=1
(set by `make browser`), where they error instead.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "notebooks" / "_build"
SCREENSHOTS = BUILD / "browser"
CHROMIUM = os.environ.get("MEMVAE_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium as root in a closed network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT_S = 90


def _missing(what: str):
    if os.environ.get("MEMVAE_BROWSER_REQUIRED") == "1":
        pytest.fail(f"{what} (MEMVAE_BROWSER_REQUIRED=1)", pytrace=False)
    pytest.skip(what)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log = url, proc, log
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._cookies))

    def _xsrf(self) -> str:
        """The server's _xsrf cookie (set on any page load), echoed in a header for DELETE/POST."""
        for c in self._cookies:
            if c.name == "_xsrf":
                return c.value
        self._opener.open(self.url + "/lab", timeout=30).read()
        return next((c.value for c in self._cookies if c.name == "_xsrf"), "")

    def api(self, method: str, path: str, timeout: float = 10):
        headers = {} if method == "GET" else {"X-XSRFToken": self._xsrf()}
        req = urllib.request.Request(self.url + path, method=method, headers=headers)
        with self._opener.open(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernel(self, kernel_id: str):
        try:
            self.api("DELETE", f"/api/kernels/{kernel_id}", timeout=30)
        except urllib.error.HTTPError as e:  # already gone
            if e.code != 404:
                raise

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _lab_env(settings_dir: Path) -> dict:
    env = dict(os.environ)
    env["MEMVAE_PROFILE"] = "smoke"
    env["MEMVAE_FIGURES_DIR"] = str(BUILD / "browser-figures")
    # the run cache of the nbval run: the smoke models it trained are not trained again
    env.setdefault("MEMVAE_RUNS_DIR", str(REPO / "runs"))
    shared_data = REPO.parent / "shared" / "data"
    if "MEMVAE_DATA_DIR" not in env and shared_data.is_dir():
        env["MEMVAE_DATA_DIR"] = str(shared_data.resolve())
    # Kernel 'python3' must be this environment's interpreter (as in the Makefile).
    venv_jupyter = Path(sys.prefix) / "share" / "jupyter"
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(venv_jupyter), env.get("JUPYTER_PATH", "")) if p)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.pop("JUPYTER_CONFIG_DIR", None)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_lab_settings(settings_dir: Path):
    """Settings for a quiet, fully rendered notebook: no news toast, no windowing (all cells in the DOM)."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for rel, data in files.items():
        p = settings_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data))


@pytest.fixture(scope="session")
def lab_server():
    """JupyterLab on http://127.0.0.1:<free port>, no token, MEMVAE_PROFILE=smoke; stopped after the session."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _missing("jupyterlab is not installed in this environment")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="memvae-lab-"))
    settings_dir, workspaces_dir = scratch / "settings", scratch / "workspaces"
    _write_lab_settings(settings_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = SCREENSHOTS / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={REPO}", "--ServerApp.allow_root=True",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read models
        f"--LabApp.user_settings_dir={settings_dir}", f"--LabApp.workspaces_dir={workspaces_dir}",
        "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
    ]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_lab_env(settings_dir), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(url, proc, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer on {url} in {SERVER_START_TIMEOUT_S} s:\n"
                                       f"{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        for k in _safe_kernels(server):
            try:
                server.shutdown_kernel(k["id"])
            except Exception:  # the server's own shutdown below stops what is left
                pass
        proc.terminate()  # SIGTERM: Jupyter Server shuts its kernels down and exits
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


def _safe_kernels(server):
    try:
        return server.kernels()
    except Exception:
        return []


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session (Playwright launches it with a fresh profile)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright; never `playwright install`)")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} not found (apt-get install -y chromium)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def lab_page(browser):
    """A fresh page (own context) with a viewport tall enough for a figure and its sliders."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
