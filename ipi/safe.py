"""Text that leaves ipi for a person or someone else's tool, made harmless there.

SKUs, product names, file names and report text come from outside: from Amazon, from
whoever can edit a shared listing, from whoever can write to a drop folder. Before any
of it reaches a person, it passes through here, once per target:

- every target (``text``): control characters go, ANSI escape sequences whole (they
  move a terminal's cursor, recolour it, retitle its window), NUL included, and the
  bidirectional overrides that make text read other than it is stored ("Trojan
  source"); a line break stays;
- a terminal (``Terminal``): the same for all the CLI prints, a CR kept only in CRLF;
- alert targets: sent as text (``ipi.alerts.deliver``), which apprise sends as
  text/plain email and escapes for each service (Slack: ``&``, ``<`` and ``>``, so
  ``<!channel>`` pings nobody and ``<http://…|click>`` is no link);
- markdown (``markdown``, Prefect artifacts): the characters that make images,
  links, emphasis or table cells escaped;
- HTML (email, the dashboard): escaped where the page is built (``html.escape``,
  Jinja's autoescape), after ``text``;
- where credentials go (``credentials_url``): https, or http to this machine only;
- a CSV opened in a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return as a formula (OWASP "CSV injection"): such text cells get
  a leading ``'``, which spreadsheets show as text; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \) and two-character escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0 but tab and line feed, DEL, C1, and the bidirectional embeddings and overrides.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TERMINAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
                       "|\r(?!\n)")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|<>~])")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets and a port allowed)."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8450
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # 127.0.0.1:8450, localhost:8450
        host = host.partition(":")[0]
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credentials_url(url: str) -> bool:
    """A URL credentials may travel to: https, or http to this machine (a test double)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http"
                                       and is_loopback(parts.hostname or ""))


def text(value: str) -> str:
    """Text with no escape sequence and no control character but tab and line feed."""
    return _CONTROL.sub("", _ANSI.sub("", value.replace("\r\n", "\n")))


def markdown(value: str) -> str:
    """Text that renders as itself in markdown, table cells included (one line)."""
    return _MARKDOWN.sub(r"\\\1", text(value).replace("\n", " "))


def event(value: Any) -> Any:
    """A JSON document's strings as ``text``, however deep."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {k: event(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [event(v) for v in value]
    return value


class Terminal(io.TextIOBase):
    """A text stream that writes to ``out`` only what a terminal shows as text: what
    every CLI print passes through. A CR stays only in CRLF (an RFC 4180 CSV)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, s: str) -> int:
        self._out.write(_TERMINAL.sub("", _ANSI.sub("", s)))
        return len(s)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def writable(self) -> bool:
        return True

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows and never runs (None: empty)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Every CSV ipi serves or writes: the header, then the rows, each cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: a field holding \r is quoted
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()
