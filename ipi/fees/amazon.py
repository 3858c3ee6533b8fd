"""Amazon's own fee forecast: the Data Kiosk ``economicsPreview``, parsed, stored and read.

Amazon estimates, per MSKU, the aged inventory surcharge, the low-inventory-level fee
and the storage utilization surcharge it expects to charge over a window of coming days
(``ipi.sources.data_kiosk`` asks for it). ipi computes the same fees itself from the
reports (``ipi.fees.compute``); Amazon's figure, where there is one, is the one that
leads, and ipi's explains it.

- ``parse_preview``: the document (JSON Lines, gzip or not) to amounts per SKU and fee
  type, pure. Fee names are taken as the enum (``AGED_INVENTORY_SURCHARGE``) or in words
  (``Aged Inventory Surcharge``); a fee type ipi does not know is ignored; a line that
  cannot be read is counted and skipped, never quoted (it is the seller's data).
  Decompression is capped as an archive member's is (``ipi.sources.archive.Limits``),
  tighter: a preview is a few MB.
- ``store_preview``: one preview replaces the (account, marketplace, day) one in one
  transaction; the same bytes again change nothing. The document's bytes go to the
  landing zone first (``raw_file``), so a parser fix can re-read any day.
- ``record_attempt`` / ``save_preview``: each fetch's outcome, so "once a day" holds (an
  ``ok`` or ``no_data`` day is not asked again; any other is) and status can be shown.
- ``amazon_forecast``: the newest preview fetched on or before a day.

A DONE query without a document is Amazon saying it has nothing to forecast for the
window: it is stored as an empty forecast (no SKU, no totals), so that an older preview
is never shown as today's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from ipi.errors import BadFile
from ipi.sources.archive import Limits, inflate
from ipi.store import Store, utcnow
from ipi.store.landing import land, landing_path

if TYPE_CHECKING:
    from ipi.sources.data_kiosk import Preview

FEE_TYPES = ("aged", "low_inventory", "utilization")  # ipi's names for Amazon's three
# Amazon's names (the economics schema's FeeType enum) -> ipi's.
AMAZON_FEE_TYPES = {
    "AGED_INVENTORY_SURCHARGE": "aged",
    "LOW_INVENTORY_LEVEL_FEE": "low_inventory",
    "STORAGE_UTILIZATION_SURCHARGE": "utilization",
}
Outcome = Literal["ok", "no_data", "fatal", "cancelled", "missing", "error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "no_data", "fatal", "cancelled", "missing", "error")
# Outcomes that settle the day: Amazon answered. Any other is asked again on the next run.
SETTLED: tuple[Outcome, ...] = ("ok", "no_data")
# A preview lists each SKU once per window (~1 KB a line): 10,000 SKUs are ~10 MB. The
# ratio rules are an archive member's: JSON compresses 10-20:1, a bomb 1000:1.
LIMITS = Limits(member_bytes=256 << 20, total_bytes=256 << 20)
_NOT_LETTER = re.compile(r"[^A-Z]+")


# -- the parser (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedPreview:
    """A preview document read: amounts per SKU and fee type (a fee Amazon did not give
    is absent), the currency they are in, and what was left out."""

    by_sku: dict[str, dict[str, float]]
    currency: str | None
    records: int  # lines read as records (of this marketplace)
    bad_lines: int  # lines that could not be read: skipped
    other_marketplace: int = 0  # records of another marketplace: left out


def fee_type(name: object) -> str | None:
    """ipi's name for one of Amazon's fee names, enum or words; None: not one of the three."""
    if not isinstance(name, str):
        return None
    return AMAZON_FEE_TYPES.get(_NOT_LETTER.sub("_", name.upper()).strip("_"))


def _amount(charge: Any) -> tuple[float, str | None] | None:
    """A charge's total (else its amount) and currency; None when it has neither."""
    detail = charge.get("aggregatedDetail") if isinstance(charge, dict) else None
    if not isinstance(detail, dict):
        raise ValueError("a charge without aggregatedDetail")
    for key in ("totalAmount", "amount"):
        money = detail.get(key)
        if isinstance(money, dict) and money.get("amount") is not None:
            value = money["amount"]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError("an amount that is not a number")
            number = float(value)  # a numeric string too; anything else raises
            if not math.isfinite(number):
                raise ValueError("an amount that is not finite")
            currency = money.get("currencyCode")
            return number, currency if isinstance(currency, str) and currency else None
    return None


def _record(line: bytes) -> tuple[str, str | None, dict[str, float], str | None]:
    """One line's (sku, marketplace id, {fee type: amount}, currency); ValueError when the
    line is not a record."""
    rec = json.loads(line)
    if not isinstance(rec, dict):
        raise ValueError("not an object")
    sku = rec.get("msku")
    if not isinstance(sku, str) or not sku.strip():
        raise ValueError("no msku")
    mp = rec.get("marketplaceId")
    fees = rec.get("fees") or []
    if not isinstance(fees, list):
        raise ValueError("fees is not a list")
    amounts: dict[str, float] = {}
    currency = None
    for fee in fees:
        if not isinstance(fee, dict):
            raise ValueError("a fee that is not an object")
        kind = fee_type(fee.get("feeTypeName"))
        if kind is None:
            continue  # a fee ipi does not forecast
        charges = fee.get("charges") or []
        if not isinstance(charges, list):
            raise ValueError("charges is not a list")
        for charge in charges:
            got = _amount(charge)
            if got is None:
                continue
            amounts[kind] = amounts.get(kind, 0.0) + got[0]
            currency = currency or got[1]
    return sku.strip(), mp if isinstance(mp, str) else None, amounts, currency


def _lines(text: bytes) -> Iterator[bytes]:
    for line in text.removeprefix(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            yield line


def parse_preview(content: bytes, marketplace_id: str | None = None) -> ParsedPreview:
    """Read an economicsPreview document (JSON Lines, gzip or not): each SKU's amount per
    fee type, summed over its charges (``totalAmount``, else ``amount``) and its records.

    A line that is not a record (not JSON, no ``msku``, a charge that is not a number, an
    amount in another currency than the document's) is counted in ``bad_lines`` and
    skipped whole. Records of a marketplace other than ``marketplace_id`` are left out.
    Raises BadFile when the document cannot be decompressed, or when it has lines and
    none of them could be read; messages never quote the content.
    """
    text = inflate(content, LIMITS)
    by_sku: dict[str, dict[str, float]] = {}
    currency: str | None = None
    records = bad = other = 0
    for line in _lines(text):
        try:
            sku, mp, amounts, cur = _record(line)
        except (ValueError, TypeError, RecursionError):  # JSONDecodeError is a ValueError
            bad += 1
            continue
        if marketplace_id is not None and mp is not None and mp != marketplace_id:
            other += 1
            continue
        if cur is not None and currency is not None and cur != currency:
            bad += 1  # one preview is one marketplace's, in one currency
            continue
        currency = currency or cur
        records += 1
        mine = by_sku.setdefault(sku, {})
        for kind, value in amounts.items():
            mine[kind] = mine.get(kind, 0.0) + value
    if bad and not records and not other:
        raise BadFile(f"none of the document's {bad} line(s) is a fee preview record: "
                      "not stored (the document is kept)")
    return ParsedPreview({s: a for s, a in by_sku.items() if a}, currency, records, bad,
                         other)


# -- storing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPreview:
    """What ``store_preview`` did."""

    sha256: str | None  # the document's (None: Amazon had no data)
    skus: int
    rows: int
    bad_lines: int
    skipped: bool = False  # the same preview was stored already: nothing changed


def _keep(store: Store, content: bytes) -> tuple[str, Path]:
    """Put ``content`` in the landing zone (unless there already); its sha256 and path
    relative to the data folder."""
    sha = hashlib.sha256(content).hexdigest()
    raw_dir = store.raw_dir
    raw_dir.mkdir(parents=True, exist_ok=True)
    if not landing_path(raw_dir, sha).exists():
        fd, tmp = tempfile.mkstemp(prefix=".preview-", dir=raw_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            land(raw_dir, Path(tmp), sha)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return sha, landing_path(raw_dir.relative_to(store.data_dir), sha)


def _raw_file(con: duckdb.DuckDBPyConnection, sha: str, size: int, path: Path,
              at: datetime) -> None:
    con.execute("INSERT INTO raw_file (sha256, size_bytes, landing_path, first_seen_at) "
                "VALUES ($sha, $size, $path, $at) ON CONFLICT DO NOTHING",
                {"sha": sha, "size": size, "path": str(path), "at": at})


def _store(store: Store, con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
           asof: date, start: date, end: date, content: bytes | None,
           parsed: ParsedPreview, query_id: str | None, at: datetime) -> StoredPreview:
    sha = None
    if content is not None:
        # The bytes go to the landing zone before the commit that points at them.
        sha, path = _keep(store, content)
        _raw_file(con, sha, len(content), path, at)
    old = con.execute(
        "SELECT sha256, start_date, end_date FROM amazon_forecast "
        "WHERE account = $account AND marketplace = $marketplace AND fetched_for = $asof",
        {"account": account, "marketplace": marketplace, "asof": asof}).fetchone()
    rows = sum(len(a) for a in parsed.by_sku.values())
    if old is not None and tuple(old) == (sha, start, end):
        return StoredPreview(sha, len(parsed.by_sku), rows, parsed.bad_lines, skipped=True)
    key = {"account": account, "marketplace": marketplace, "asof": asof}
    con.execute("DELETE FROM amazon_forecast_fee WHERE account = $account "
                "AND marketplace = $marketplace AND fetched_for = $asof", key)
    con.execute("DELETE FROM amazon_forecast WHERE account = $account "
                "AND marketplace = $marketplace AND fetched_for = $asof", key)
    con.execute(
        "INSERT INTO amazon_forecast (account, marketplace, fetched_for, start_date, "
        "end_date, currency, sha256, query_id, skus, bad_lines, stored_at) "
        "VALUES ($account, $marketplace, $asof, $start, $end, $currency, $sha, $query_id, "
        "$skus, $bad_lines, $now)",
        {**key, "start": start, "end": end, "currency": parsed.currency, "sha": sha,
         "query_id": query_id, "skus": len(parsed.by_sku), "bad_lines": parsed.bad_lines,
         "now": at})
    skus, kinds, amounts = [], [], []
    for sku, fees in sorted(parsed.by_sku.items()):
        for kind, value in sorted(fees.items()):
            skus.append(sku)
            kinds.append(kind)
            amounts.append(value)
    if skus:
        # One statement for every row: the lists are unnested side by side.
        con.execute(
            "INSERT INTO amazon_forecast_fee (account, marketplace, fetched_for, sku, "
            "fee_type, amount) SELECT $account, $marketplace, $asof, unnest($skus::VARCHAR[]), "
            "unnest($kinds::VARCHAR[]), unnest($amounts::DOUBLE[])",
            {**key, "skus": skus, "kinds": kinds, "amounts": amounts})
    return StoredPreview(sha, len(parsed.by_sku), rows, parsed.bad_lines)


def _empty() -> ParsedPreview:
    return ParsedPreview({}, None, 0, 0)


def store_preview(store: Store, account: str, marketplace: str, asof: date, start: date,
                  end: date, content: bytes | None, *, marketplace_id: str | None = None,
                  query_id: str | None = None) -> StoredPreview:
    """Store a preview fetched for ``asof`` (the window ``start``..``end``), replacing the
    day's in one transaction; ``content`` None: Amazon had no data (an empty forecast).
    The same preview again changes nothing. Raises BadFile (the document kept) when the
    document cannot be read."""
    parsed = _empty() if content is None else parse_preview(content, marketplace_id)
    with store.write() as con:
        return _store(store, con, account, marketplace, asof, start, end, content, parsed,
                      query_id, utcnow())


def _attempt(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, asof: date,
             outcome: Outcome, at: datetime, query_id: str | None, sha: str | None,
             reason: str | None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    con.execute(
        "INSERT INTO amazon_forecast_fetch (account, marketplace, fetched_for, attempted_at, "
        "outcome, query_id, sha256, reason) VALUES ($account, $marketplace, $asof, $at, $outcome, "
        "$query_id, $sha, $reason)",
        {"account": account, "marketplace": marketplace, "asof": asof, "at": at, "outcome": outcome,
         "query_id": query_id, "sha": sha, "reason": reason})


def record_attempt(store: Store, account: str, marketplace: str, asof: date,
                   outcome: Outcome, *, query_id: str | None = None,
                   reason: str | None = None, document: bytes | None = None) -> str | None:
    """Record a fetch's outcome for ``asof``; ``document`` (a FATAL query's error document,
    or one that could not be read) is kept in the landing zone. Its sha256, if any.
    ``reason`` is one line for the operator: never the document's content, never a
    secret."""
    with store.write() as con:
        at = utcnow()
        sha = None
        if document is not None:
            sha, path = _keep(store, document)
            _raw_file(con, sha, len(document), path, at)
        _attempt(con, account, marketplace, asof, outcome, at, query_id, sha, reason)
        return sha


def save_preview(store: Store, account: str, asof: date, preview: Preview) -> str | None:
    """Store what one fetch gave (``ipi.sources.data_kiosk.Preview``) and record its
    outcome, in one transaction; the run's warning, one line, if any (None: all is well).

    A preview whose document cannot be read is recorded as an ``error`` (the document
    kept), so the next run asks again."""
    if preview.outcome in SETTLED:
        try:
            parsed = (_empty() if preview.content is None
                      else parse_preview(preview.content, preview.marketplace_id))
        except BadFile as exc:
            record_attempt(store, account, preview.marketplace, asof, "error",
                           query_id=preview.query_id, reason=str(exc),
                           document=preview.content)
            return f"Amazon's document could not be read: {exc}"
        with store.write() as con:
            at = utcnow()
            stored = _store(store, con, account, preview.marketplace, asof, preview.start,
                            preview.end, preview.content, parsed, preview.query_id, at)
            _attempt(con, account, preview.marketplace, asof, preview.outcome, at,
                     preview.query_id, stored.sha256, None)
        if parsed.bad_lines:
            return (f"{parsed.bad_lines} line(s) of Amazon's document could not be read "
                    f"and were skipped; {parsed.records} read (the document is kept)")
        return None
    record_attempt(store, account, preview.marketplace, asof, preview.outcome,
                   query_id=preview.query_id, reason=preview.reason,
                   document=preview.content)
    return preview.reason or preview.outcome


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmazonForecast:
    marketplace: str
    asof: date  # the day the preview was fetched for
    start: date
    end: date
    currency: str | None
    # sku -> {fee type: amount}; a fee type Amazon did not give is absent
    by_sku: dict[str, dict[str, float]]
    totals: dict[str, float]  # fee type -> sum over SKUs (absent when no SKU had it)

    def record(self) -> dict[str, object]:
        """As ``ipi capacity --json`` writes it beside ipi's figures: the window and the
        totals (the SKUs' figures are in the exposure's rows)."""
        return {"asof": self.asof, "start": self.start, "end": self.end,
                "currency": self.currency, "totals": self.totals}


def amazon_forecast(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
                    on: date) -> AmazonForecast | None:
    """The newest preview fetched on or before ``on`` (None: none stored)."""
    head = con.execute(
        "SELECT fetched_for, start_date, end_date, currency FROM amazon_forecast "
        "WHERE account = $account AND marketplace = $marketplace AND fetched_for <= $on "
        "ORDER BY fetched_for DESC LIMIT 1",
        {"account": account, "marketplace": marketplace, "on": on}).fetchone()
    if head is None:
        return None
    asof, start, end, currency = head
    by_sku: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    for sku, kind, amount in con.execute(
            "SELECT sku, fee_type, amount FROM amazon_forecast_fee WHERE account = $account "
            "AND marketplace = $marketplace AND fetched_for = $asof ORDER BY sku, fee_type",
            {"account": account, "marketplace": marketplace, "asof": asof}).fetchall():
        by_sku.setdefault(sku, {})[kind] = amount
        totals[kind] = totals.get(kind, 0.0) + amount
    return AmazonForecast(marketplace, asof, start, end, currency, by_sku, totals)


def fetched_today(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
                  day: date) -> bool:
    """Whether Amazon answered (``ok`` or ``no_data``) for ``day`` already: once a day."""
    return con.execute(
        "SELECT count(*) FROM amazon_forecast_fetch "
        "WHERE account = $account AND marketplace = $marketplace "
        f"AND fetched_for = $day AND outcome IN {SETTLED}",
        {"account": account, "marketplace": marketplace, "day": day}
    ).fetchone() != (0,)


@dataclass(frozen=True)
class FetchAttempt:
    """One fetch of Amazon's fee forecast, for status: when, for which day, what came."""

    marketplace: str
    asof: date
    attempted_at: datetime  # UTC
    outcome: Outcome
    query_id: str | None
    reason: str | None


def last_attempts(con: duckdb.DuckDBPyConnection, account: str) -> list[FetchAttempt]:
    """The newest fetch attempt of each of the account's marketplaces."""
    rows = con.execute(
        "SELECT marketplace, fetched_for, attempted_at, outcome, query_id, reason "
        "FROM amazon_forecast_fetch WHERE account = $account "
        "QUALIFY row_number() OVER (PARTITION BY marketplace "
        "ORDER BY attempted_at DESC) = 1 ORDER BY marketplace", {"account": account}).fetchall()
    return [FetchAttempt(*r) for r in rows]
