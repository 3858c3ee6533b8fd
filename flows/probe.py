"""Is a Prefect server there, is a port free: the standard library only, so ``ipi run``
can ask before it imports Prefect (``flows.serve`` imports it)."""

from __future__ import annotations

import socket
import urllib.request


def healthy(url: str, timeout: float = 2) -> bool:
    """Whether the Prefect API at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the server binds: connections of a server just stopped, still in TIME_WAIT,
        # do not make the port taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
