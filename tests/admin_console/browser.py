"""Browser-test plumbing: Debian's Chromium (installed when missing), the real WSGI application on a
local port in a thread, and host names mapped to it.

pytest-django's live_server cannot route by host name, and the platform routes every request by
it, so this runs `superapp.wsgi` itself on 127.0.0.1 and tells Chromium to resolve every
`*.localhost` name (saga.localhost, kanzaki.localhost) and `localhost` to 127.0.0.1.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
HTMX_FILE = REPO_ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
ARTIFACTS = REPO_ROOT / "test-artifacts"
_INSTALL_LOCK = Path("/tmp/superapp-browser-test-install.lock")


def _locked_install(check, argv_list: list[list[str]], timeout: int, cwd: Path | None = None) -> str:
    """Runs the install commands once across parallel test workers; returns their output's tail."""
    output = ""
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if check():
                return ""
            for argv in argv_list:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                                      env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
                output = (done.stdout + done.stderr)[-2000:]
                if done.returncode != 0:
                    break
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return output


def ensure_chromium() -> str | None:
    """Installs Debian's chromium when it is missing. Returns why it cannot be had, or None."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return (f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
                "run `apt-get install -y chromium`")
    try:
        output = _locked_install(lambda: os.access(CHROMIUM, os.X_OK),
                                 [[apt, "update"], [apt, "install", "-y", "--no-install-recommends", "chromium"]],
                                 timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"installing chromium failed: {exc}"
    if not os.access(CHROMIUM, os.X_OK):
        return f"`apt-get install -y chromium` did not provide {CHROMIUM}: {output}"
    return None


def ensure_htmx() -> None:
    """The console loads htmx from node_modules (npm ci); `make` installs it, this is the fallback."""
    if HTMX_FILE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"{HTMX_FILE} is missing and npm is not installed: run `npm ci` (make does)")
    output = _locked_install(HTMX_FILE.exists, [[npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]],
                             timeout=300, cwd=REPO_ROOT)
    if not HTMX_FILE.exists():
        raise RuntimeError(f"`npm ci` did not install {HTMX_FILE}: {output}")


def _port_candidates(raw: str | None = None) -> list[int]:
    raw = os.environ.get("BROWSER_TEST_PORTS", "") if raw is None else raw
    if raw:
        low, high = (int(part) for part in raw.split("-", 1))
        return list(range(low, high + 1))
    return [0]  # any free port the kernel picks


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - wsgiref's signature
        pass


class LiveServer:
    """The project's WSGI application served from one thread (so one database connection)."""

    def __init__(self, ports: str | None = None) -> None:
        """ports: a range such as "8500-8599" (default: BROWSER_TEST_PORTS, else any free port)."""
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
        last_error: OSError | None = None
        for port in _port_candidates(ports):
            try:
                self.httpd: WSGIServer = make_server("127.0.0.1", port, application, handler_class=_QuietHandler)
                break
            except OSError as exc:
                last_error = exc
        else:
            raise RuntimeError(f"no free port in {ports or os.environ.get('BROWSER_TEST_PORTS')}: {last_error}")
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self._serve, name="browser-live-server", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from django.db import connections

        try:
            self.httpd.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()  # this thread's connection, or the test database cannot be dropped

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.thread.join(timeout=10)
        self.httpd.server_close()


def in_own_connection(function, *args, **kwargs):
    """Runs `function` in a thread with its own database connection, in autocommit: its writes are
    committed at once and seen by the live server, whatever transaction the test itself is in."""
    outcome: dict = {}

    def target() -> None:
        from django.db import connections

        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="browser-test-db")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def row_marks(schema_name: str, models: list) -> dict:
    """The highest primary key of each model in a schema, to delete what a browser test commits
    afterwards (`delete_rows_after`). List the models in the order they can be deleted in:
    rows that point at others first."""
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        return {model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0 for model in models}


def delete_rows_after(schema_name: str, marks: dict) -> None:
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        for model, mark in marks.items():
            model.objects.filter(pk__gt=mark).delete()
