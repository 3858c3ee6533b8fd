"""Running the dashboard: ``serve`` (blocking, for a command of its own) and ``start``
(a daemon thread, for ``ipi serve`` to run it beside the scheduler).

The socket is bound here, before uvicorn starts, so a port in use or an address the
machine does not have is one ConfigError line instead of uvicorn's log and exit; and
port 0 (tests) gets a free port whose URL is known. uvicorn's own logging setup is
turned off: ipi's logging stays as the command set it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import uvicorn

from ipi.errors import ConfigError
from ipi.safe import is_loopback
from ipi.settings import Settings
from ipi.web.app import create_app, tokens_of
from ipi.web.auth import EVERY, TOKEN_ENV, check_token

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8450
STARTUP_TIMEOUT = 10.0  # seconds for a thread's server to listen


def check_exposure(host: str, tokens: Mapping[str, str]) -> None:
    """A dashboard reachable from other machines must have a token, and every token must
    be long enough that guessing it is hopeless (``tokens``: ``tokens_of``)."""
    for who, token in tokens.items():
        try:
            check_token(token, TOKEN_ENV if who == EVERY else f"the token of {who}")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not tokens and not is_loopback(host):
        raise ConfigError(f"the dashboard on {host} would be open to the network without a "
                          f"token: set {TOKEN_ENV} (a long random string) or listen on "
                          "127.0.0.1")


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"the dashboard cannot listen on {host}: {exc.strerror or exc}; "
                          "use an address of this machine, e.g. 127.0.0.1") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"the dashboard cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}; choose another port") from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def _server(settings: Settings, tokens: Mapping[str, str],
            on_ready: Callable[[], None]) -> _Server:
    config = uvicorn.Config(create_app(settings, tokens=tokens), log_config=None,
                            access_log=False, lifespan="off", server_header=False,
                            timeout_graceful_shutdown=2)
    return _Server(config, on_ready)


def serve(settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None, ready: Callable[[str], None] | None = None) -> None:
    """Serve the dashboard until SIGINT or SIGTERM (then uvicorn re-raises the signal:
    Ctrl-C ends as KeyboardInterrupt); ``ready(url)`` once it listens."""
    tokens = tokens_of(settings, token or None)
    check_exposure(host, tokens)
    sock = _bind(host, port)
    url = _url(sock)
    server = _server(settings, tokens, lambda: ready(url) if ready else None)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@dataclass
class Handle:
    """A dashboard running in a daemon thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, let requests under way finish, and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)


def start(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None) -> Handle:
    """Start the dashboard in a daemon thread (beside the scheduler of ``ipi serve``);
    returns once it listens."""
    tokens = tokens_of(settings, token or None)
    check_exposure(host, tokens)
    sock = _bind(host, port)
    url = _url(sock)
    listening = threading.Event()
    server = _server(settings, tokens, listening.set)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="ipi-web", daemon=True)
    thread.start()
    if not listening.wait(STARTUP_TIMEOUT):
        server.should_exit = True
        sock.close()
        raise ConfigError(f"the dashboard did not start on {host}:{port} within "
                          f"{STARTUP_TIMEOUT:.0f} s")
    return Handle(url, server, thread)
