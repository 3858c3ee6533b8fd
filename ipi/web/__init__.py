"""The dashboard the seller opens every morning: every account at a glance, and per
account the score history, the factors, what to fix, what-if and what arrived.

Read-only, on ``ipi.api.Rows``; Starlette, uvicorn and jinja2 are imported here only,
never by ``import ipi``. ``serve`` runs it (blocking), ``start`` in a daemon thread
beside ``ipi serve``'s scheduler, ``create_app`` gives the ASGI app itself.
"""

from ipi.web.app import create_app
from ipi.web.auth import TOKEN_ENV
from ipi.web.server import DEFAULT_HOST, DEFAULT_PORT, Handle, serve, start

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TOKEN_ENV", "Handle", "create_app", "serve",
           "start"]
