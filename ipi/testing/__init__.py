"""Test helpers that ship with ipi, for tests: ipi's own and yours (code that calls ipi,
or a fork of it). Nothing in ipi imports this package, and it needs nothing beyond ipi's
own dependencies (no pytest): wrap it in the fixtures of your test framework.

What it offers:

* ``FakeSpApi``: a stateful fake of Amazon's SP-API on 127.0.0.1 (the Reports API, the
  Data Kiosk API, the LWA token endpoint, the pre-signed downloads) that the real
  python-amazon-sp-api talks to, with Amazon's quirks scripted per test (429s, FATAL
  and CANCELLED reports, slow reports, expired URLs, cp1252 documents, rate limits)
  and every request it received kept for assertions (``fake.requests``,
  ``fake.calls(operation)``)::

      with FakeSpApi() as fake:
          serve_day(fake, simulate(date(2026, 6, 1), 20), 10, tmp_path / "served", ["US"])
          config.write_text(account_toml(fake, "acme", ["US"], poll_interval=0.02))
          ...  # run ipi on config, IPI_LWA_CLIENT_ID, IPI_LWA_CLIENT_SECRET and
               # IPI_ACME_REFRESH_TOKEN set to anything, then:
          assert len(fake.calls("createReport")) == 3

  ``token_client_for(fake)`` points a python-amazon-sp-api client of your own at it;
  ``account_toml`` configures an ipi account that fetches from it. Data Kiosk queries
  are scripted with ``fake.data_kiosk`` and ``Outcome``.
* Report bodies: ``serve_day`` has the fake serve a day of the demo seller
  (``ipi.demo``) in any marketplace; ``Catalog`` serves many sellers of many sizes at
  once, for benchmarks; ``planning_report`` writes a planning report from a few
  hand-written rows; the report types and ``MARKETPLACE_IDS`` as Amazon spells them.

python-amazon-sp-api caches access tokens process-wide, keyed by refresh token: use a
refresh token per test, or clear ``sp_api.auth.access_token_client.cache`` between
tests, or a token from an earlier fake is sent to this one and refused.
"""

from __future__ import annotations

from ipi.testing.catalog import Catalog
from ipi.testing.data_kiosk import FakeDataKiosk, Outcome, Query
from ipi.testing.reports import (
    MARKETPLACE_IDS,
    MYI,
    PLANNING,
    PLANNING_COLUMNS,
    REPORT_TYPES,
    STRANDED,
    planning_report,
    serve_day,
)
from ipi.testing.sp_api import (
    PUBLISHED_RATE_LIMITS,
    Document,
    FakeSpApi,
    Recorded,
    SellerDocuments,
    account_toml,
    token_client_for,
)

__all__ = [
    "MARKETPLACE_IDS",
    "MYI",
    "PLANNING",
    "PLANNING_COLUMNS",
    "PUBLISHED_RATE_LIMITS",
    "REPORT_TYPES",
    "STRANDED",
    "Catalog",
    "Document",
    "FakeDataKiosk",
    "FakeSpApi",
    "Outcome",
    "Query",
    "Recorded",
    "SellerDocuments",
    "account_toml",
    "planning_report",
    "serve_day",
    "token_client_for",
]
