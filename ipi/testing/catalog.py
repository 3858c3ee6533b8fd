"""Report bodies for many fake sellers, generated once and sliced per seller.

A fleet benchmark serves a hundred sellers of 300 to 20,000 SKUs from one fake
SP-API. Simulating each would take seconds apiece, so one ``ipi.demo`` seller of
the largest size is simulated once, its three reports written for ``day``, and
a seller of N SKUs gets the rows of the first N SKUs, its SKUs renamed
(``DEMO-0042`` becomes ``<tag>-0042``) so that no two sellers send the same bytes,
and the planning report's marketplace set to the one asked for. Each seller's
document is built on first use and kept, gzip included (``Document.served``)::

    catalog = Catalog(date(2026, 12, 3), max_skus=20_000)
    fake.set_seller_documents(refresh_token, catalog.documents("S007", 4_500))

The planning report is UTF-8 (as Amazon serves it), the MYI report cp1252 with
CRLF line ends and no declared charset, the stranded report UTF-8; the day is
inside the simulation's stranding episode, so the stranded report has rows.
"""

from __future__ import annotations

import bisect
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path

from ipi.demo import simulate, write_day
from ipi.testing.reports import MARKETPLACE_IDS, MYI, PLANNING, STRANDED
from ipi.testing.sp_api import Document, SellerDocuments

CODES = {v: k for k, v in MARKETPLACE_IDS.items()}

_DAYS, _DAY = 100, 80  # simulated report days; the one served (inside the stranding)
_PREFIX = b"DEMO-"


class _Rows:
    """One report's header and its rows in SKU order, with each row's SKU index."""

    def __init__(self, raw: bytes, newline: bytes) -> None:
        lines = raw.split(newline)
        if lines and lines[-1] == b"":
            lines.pop()
        self.newline = newline
        self.header = lines[0]
        col = lines[0].split(b"\t").index(b"sku")
        self.lines = lines[1:]
        self.index = [int(line.split(b"\t")[col].removeprefix(_PREFIX)) for line in self.lines]
        assert self.index == sorted(self.index)

    def first(self, n_skus: int) -> bytes:
        k = bisect.bisect_left(self.index, n_skus)
        return self.newline.join([self.header, *self.lines[:k], b""])


class Catalog:
    """Generated report bodies for sellers of up to ``max_skus`` SKUs on ``day``."""

    def __init__(self, day: date, max_skus: int, *, seed: int = 7) -> None:
        self.day, self.max_skus = day, max_skus
        sim = simulate(day - timedelta(days=_DAY), _DAYS, n_skus=max(max_skus, 20), seed=seed)
        assert sim.day(_DAY) == day
        with tempfile.TemporaryDirectory() as tmp:
            planning, myi, stranded = write_day(sim, _DAY, Path(tmp))
            self._rows = {PLANNING: _Rows(planning.read_bytes(), b"\n"),
                          MYI: _Rows(myi.read_bytes(), b"\r\n"),
                          STRANDED: _Rows(stranded.read_bytes(), b"\n")}
        self._lock = threading.Lock()
        self._documents: dict[tuple[str, int, str, str], Document] = {}

    def document(self, tag: str, n_skus: int, report_type: str, marketplace_id: str) -> Document:
        """The document of seller ``tag`` (its SKUs' prefix) with ``n_skus`` SKUs."""
        if n_skus > self.max_skus:
            raise ValueError(f"{n_skus} SKUs: this catalog has {self.max_skus}")
        key = (tag, n_skus, report_type, marketplace_id)
        with self._lock:
            doc = self._documents.get(key)
        if doc is not None:
            return doc
        body = self._rows[report_type].first(n_skus).replace(_PREFIX, f"{tag}-".encode())
        if report_type == PLANNING:
            body = body.replace(b"\tUS\t", f"\t{CODES[marketplace_id]}\t".encode())
        doc = Document(body, charset=None if report_type == MYI else "UTF-8")
        with self._lock:
            return self._documents.setdefault(key, doc)

    def documents(self, tag: str, n_skus: int) -> SellerDocuments:
        """For ``FakeSpApi.set_seller_documents``: this seller's documents."""
        def make(report_type: str, marketplace_id: str) -> Document | None:
            if report_type not in self._rows or marketplace_id not in CODES:
                return None
            return self.document(tag, n_skus, report_type, marketplace_id)

        return make

    def rows(self, n_skus: int) -> dict[str, int]:
        """Rows per report type for a seller of ``n_skus`` SKUs, in one marketplace."""
        return {t: bisect.bisect_left(r.index, n_skus) for t, r in self._rows.items()}
