"""Helpers the tests share (no tests or fixtures here: the fixtures over them are in
conftest.py): alert targets on loopback, a CLI run killed mid-way, the demo's dates and
accounts far apart in time, a build shared by the xdist workers.

The fake SP-API and the report builders ship with ipi (``ipi.testing``); what is here
needs a package only the tests install (aiosmtpd) or pytest's own machinery."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

DEMO_START = date(2026, 6, 1)
# Two accounts 25 hours apart (UTC+14 and UTC-11): their dates always differ.
FAR_APART = {"kiribati": "Pacific/Kiritimati", "samoa": "Pacific/Pago_Pago"}
FAR_APART_ACCOUNTS = "".join(f'[[accounts]]\nname = "{name}"\ntimezone = "{tz}"\n'
                             for name, tz in FAR_APART.items())


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str,
               build: Callable[[Path], Path]) -> Path:
    """``build(folder)`` once per test run, its result (a path in ``folder``) read-only for
    the tests, which copy it before changing anything. Under xdist the first worker to ask
    builds it in the run's shared temporary folder while the others wait, then use it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / name
    with open(shared.with_name(f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released at close, or when a worker dies
        done = shared / ".built"
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that died building
            shared.mkdir()
            done.write_text(str(build(shared).relative_to(shared)), encoding="utf-8")
        return shared / done.read_text(encoding="utf-8")


@dataclass
class Mailbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

    port: int
    messages: list[Any] = field(default_factory=list)
    controller: Any = None
    handler: Any = None

    def down(self) -> None:
        """Stop listening: deliveries fail as when a mail server is down."""
        self.controller.stop()
        self.controller = None

    def up(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def url(self) -> str:
        return (f"mailto://127.0.0.1:{self.port}?from=ipi@example.com"
                "&to=oncall@example.com&mode=insecure")

    def texts(self) -> list[str]:
        return [m.content.decode("utf-8", "replace") for m in self.messages]


def serve_mailbox() -> Iterator[Mailbox]:
    """A ``Mailbox`` listening until the generator is closed (a fixture's body)."""
    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(envelope)
            return "250 OK"

    box.handler = Handler()
    box.up()
    try:
        yield box
    finally:
        if box.controller is not None:
            box.controller.stop()


@dataclass
class Webhook:
    """A real HTTP webhook on 127.0.0.1 that records JSON bodies; can be told to fail."""

    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests first
    paths: list[str] = field(default_factory=list)  # the path of each received body

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


def serve_webhook() -> Iterator[Webhook]:
    """A ``Webhook`` listening until the generator is closed (a fixture's body)."""
    hook = Webhook(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.fail_next > 0:
                hook.fail_next -= 1
                self.send_response(500)
                self.end_headers()
                return
            hook.received.append(json.loads(body))
            hook.paths.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Proxy:
    """A real HTTP server on 127.0.0.1 passing every request on to ``target`` (an origin),
    except the first ``refuse`` whose method and path are ``route``: to those it answers
    ``status`` itself (an overloaded Prefect server answers 503; here with a Retry-After
    of 10 s, which Prefect's client waits before it asks again)."""

    port: int
    target: str
    route: tuple[str, str] = ("", "")
    status: int = 503
    refuse: int = 0
    refused: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


def serve_proxy(target: str) -> Iterator[Proxy]:
    """A ``Proxy`` to ``target`` listening until the generator is closed."""
    import httpx

    proxy = Proxy(free_port(), target.rstrip("/"))
    hop = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}

    class Handler(BaseHTTPRequestHandler):
        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Upgrade"):  # a websocket (Prefect's events): not passed on
                self.send_response(501)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if proxy.refused < proxy.refuse and (self.command, self.path) == proxy.route:
                proxy.refused += 1
                self.send_response(proxy.status)
                if proxy.status == 503:
                    self.send_header("Retry-After", "10")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            r = httpx.request(self.command, proxy.target + self.path, content=body, timeout=60,
                              headers={k: v for k, v in self.headers.items()
                                       if k.lower() not in hop})
            self.send_response(r.status_code)
            for k, v in r.headers.items():
                if k.lower() not in hop:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", proxy.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def kill_cli_at(args: list[str], line_prefix: str) -> list[str]:
    """Run ``ipi ARGS`` in a process and SIGKILL it once stderr shows a line starting with
    ``line_prefix`` (a progress line); return stderr's lines up to that one."""
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith(line_prefix):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(lines)
    return lines
