"""Alert budget benchmark: how many messages an on-call person gets, with the defaults.

An alert that repeats every day, pages again on every wobble or warns on the
day things got better teaches people to ignore it. This replays four seller
histories day by day through the real pipeline (``ipi.pipeline``: the real
ingest from a drop folder, ``score``, ``alert``) with the DEFAULT alert policy
(no ``[policy]`` in the configuration at all) and real deliveries: apprise sends
to an SMTP server (aiosmtpd) and a JSON webhook (``http.server``), both on
127.0.0.1, and counts what arrives, per channel:

1. **demo seller**: ``ipi.demo.simulate`` (150 SKUs, 120 days), the first 78
   days loaded as history without alerts, the last 42 replayed one at a time
   (what ``ipi demo`` does). Target: no ``[WARNING]`` message on the day of
   recovery (the day the ``[RESOLVED]`` of the critical alert is sent).
2. **steady incident**: a generated 60-day account, 60 SKUs: healthy for 20
   days, very unhealthy for 20 (most units stranded, a huge excess shipment),
   healthy again for 20. Targets: exactly 1 first page, at most 3 repeats,
   exactly 1 resolve, no ``[WARNING]`` on the recovery day or the 14 days after.
3. **flapping**: the same account, but its last 20 days alternate every day
   between healthy and very unhealthy. Target: at most 4 messages in those 20 days.
4. **across a check**: the steady incident moved so that its 20 unhealthy days span
   Amazon's Q1 check, with the stranded report missing on three days. Targets: those
   of the steady incident (1 page, at most 3 repeats, whatever the calendar), and one
   ``[OPS]`` message per gap in the reports.

For every scenario every state change must still be recorded: the rows of
``alert_event`` for the account equal the changes seen in ``alert_state`` from
one day to the next, and the ``below_threshold`` rows equal the crossings the
daily scores imply (under the threshold fires, at or over the recovery threshold
resolves); flapping's last 20 days hold at least 20 of them. Every message title
starts with exactly one tag (``[CRITICAL]``, ``[WARNING]``, ``[RESOLVED]``,
``[OPS]``), and the webhook's JSON carries ``state``, ``severity`` and the rest
of the contract (see bench/README.md), with apprise's ``type`` matching the severity;
an ``[OPS]`` message (about ipi itself, not an estimate) carries the routing part of it.

    python -m bench.alert_budget                      # the four scenarios, about 2 minutes
    python -m bench.alert_budget --only steady        # one scenario
    python -m bench.alert_budget --json bench/out/alert_budget.json --keep --verbose
    python -m bench.alert_budget --only steady --phase 2   # the smallest (about 20 s)

``--phase`` (default 20) is the days of each of the generated account's three
phases (steady, flapping); the demo seller has a fixed size. Exits 1 if a target
is missed. Each scenario has its own data folder under ``--out-dir`` (default
``bench/out/``, git-ignored; deleted unless ``--keep``), configuration and loopback
servers, and runs in a process of its own (``--jobs``, default 3; 1: one after the
other).
"""

from __future__ import annotations

import argparse
import email
import importlib
import json
import logging
import multiprocessing
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from ipi import pipeline
from ipi.demo import MYI_HEADER, PLANNING_HEADER, STRANDED_HEADER, simulate, write_day
from ipi.plain import plain
from ipi.score import scores
from ipi.settings import Account, Policy, Settings, load_settings
from ipi.sources.files import FileDrops

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

ACCOUNT = "acme"
TAGS = ("[CRITICAL]", "[WARNING]", "[RESOLVED]", "[OPS]")
WEBHOOK_FIELDS = ("version", "title", "message", "type", "dedup_key", "state", "severity",
                  "estimate", "band", "factors", "next_check", "alerts")
# An [OPS] message is about ipi itself (a report it could not load or found suspicious):
# no estimate or alerts to carry, only what an incident tool routes on.
OPS_WEBHOOK_FIELDS = WEBHOOK_FIELDS[:7]
APPRISE_TYPE = {"critical": "failure", "warning": "warning", "resolved": "success"}
AFTER_RECOVERY_DAYS = 14

# The demo seller as an `ipi demo` run on 2026-11-29 simulates it (120 days from
# 2026-08-02), fixed so the run is reproducible. Its estimate falls under 450 on
# 2026-11-06 and recovers on 2026-11-21, 40 days before Amazon's Q4 check: the
# 28-day trend then still points down, so the recovery day is where a
# projected-crossing warning is most tempting.
DEMO_START = date(2026, 8, 2)
DEMO_DAYS, DEMO_REPLAY = 120, 42

# The generated account: its 20 unhealthy days (2026-01-25..02-13) end before Q1's
# warning window opens (02-17) and far from the reminders before the check (03-24 and
# 03-30).
STEADY_START = date(2026, 1, 5)
# Across a check: the 20 unhealthy days (2026-03-21..04-09) span Q1's check (03-31) and
# both reminders before it; the stranded report is missing on a day of the incident and
# two days after it (partial days: carried, one [OPS] message a gap).
CHECK_START = date(2026, 3, 1)
MISSING_STRANDED = (25, 45, 46)
PHASE = 20  # days per phase: healthy, very unhealthy, healthy (or flapping); --phase
WARM = 90  # healthy days before the first report: sales history and 30/60/90-day on-hand
N_SKUS = 60
COVER_DAYS = 45  # healthy stock: 45 days of sales, under the 90 days Amazon calls excess
# The unhealthy days' shipment: 300 days of sales, all of it stranded. Units on hand then
# grow about 6x in a day, under the tenfold jump ipi reports as suspect data: the
# scenarios weigh the score's alerts, not that check.
SURGE_DAYS = 300


# --- the generated account ----------------------------------------------------------


@dataclass
class GeneratedAccount:
    start: date
    bad: np.ndarray  # [days] bool: a very unhealthy day
    lam: np.ndarray  # daily demand per SKU
    price: np.ndarray
    fulfillable: np.ndarray  # [WARM + days, n] units at the end of each day
    reserved: np.ndarray
    sales: np.ndarray
    stranded: np.ndarray  # [WARM + days, n] bool

    def day(self, i: int) -> date:
        return self.start + timedelta(days=i)


def generate(start: date, *, flapping: bool = False, seed: int = 3,
             phase: int = PHASE) -> GeneratedAccount:
    """60 SKUs with steady sales and steady stock; on a very unhealthy day 48 of them
    (80 %) hold a shipment of SURGE_DAYS days of sales, every unit stranded, and sell
    nothing. Three phases of ``phase`` days: healthy, very unhealthy, then healthy again
    or (``flapping``) healthy and very unhealthy on alternate days, starting healthy."""
    rng = np.random.default_rng(seed)
    days = 3 * phase
    bad = np.zeros(days, dtype=bool)
    bad[phase:2 * phase] = True
    if flapping:
        bad[2 * phase:] = np.arange(days - 2 * phase) % 2 == 1
    n, total = N_SKUS, WARM + days
    lam = rng.uniform(2.0, 8.0, n)
    price = np.round(rng.uniform(9, 45, n), 2)
    hit = np.arange(n) % 5 != 0
    fulfillable = np.round(lam * COVER_DAYS).astype(np.int64) + rng.integers(0, 6, (total, n))
    sales = rng.poisson(lam, (total, n)).astype(np.int64)
    stranded = np.zeros((total, n), dtype=bool)
    for i in np.where(bad)[0]:
        t = WARM + int(i)
        fulfillable[t, hit] += np.round(lam[hit] * SURGE_DAYS).astype(np.int64)
        stranded[t, hit] = True
        sales[t, hit] = 0  # a stranded listing sells nothing
    reserved = np.round(fulfillable * 0.04).astype(np.int64)
    return GeneratedAccount(start, bad, lam, price, fulfillable, reserved, sales, stranded)


def _window(a: np.ndarray, t: int, w: int) -> np.ndarray:
    return np.asarray(a[t - w + 1: t + 1].sum(axis=0))


def write_generated(acc: GeneratedAccount, i: int, folder: Path) -> None:
    """Report day ``i`` in the layouts and file names of ``ipi.demo.write_day``."""
    folder.mkdir(parents=True, exist_ok=True)
    t, d = WARM + i, acc.day(i)
    on_hand = acc.fulfillable + acc.reserved
    t7, t30 = _window(acc.sales, t, 7), _window(acc.sales, t, 30)
    t60, t90 = _window(acc.sales, t, 60), _window(acc.sales, t, 90)
    # Amazon's sell-through: t90 over the mean on hand today and 30, 60, 90 days ago.
    avg = np.mean([on_hand[t - k] for k in (0, 30, 60, 90)], axis=0)
    # Amazon's excess follows its demand forecast, not the trailing sales: a listing
    # stranded for weeks sold nothing, yet its units are not all excess once it is fixed.
    daily = acc.lam
    skus = [f"STDY-{j:03d}" for j in range(len(acc.lam))]
    planning, myi, stranded = ["\t".join(PLANNING_HEADER)], ["\t".join(MYI_HEADER)], [
        "\t".join(STRANDED_HEADER)]
    for j, sku in enumerate(skus):
        ident = {"sku": sku, "fnsku": f"X0S{j:07d}", "asin": f"B0STDY{j:04d}",
                 "product-name": f"Steady item {j}", "condition": "New",
                 "your-price": f"{acc.price[j]:.2f}"}
        avail, held = int(acc.fulfillable[t, j]), int(on_hand[t, j])
        excess = max(0, round(held - 90 * daily[j]))
        vals: dict[str, Any] = {
            **ident, "snapshot-date": d.isoformat(), "available": avail,
            "pending-removal-quantity": 0, "inv-age-0-to-90-days": avail,
            "inv-age-91-to-180-days": 0, "currency": "USD",
            "units-shipped-t7": int(t7[j]), "units-shipped-t30": int(t30[j]),
            "units-shipped-t60": int(t60[j]), "units-shipped-t90": int(t90[j]),
            "recommended-action": "Create removal order" if excess else "No action",
            "healthy-inventory-level": round(60 * daily[j]),
            "sell-through": f"{t90[j] / avg[j]:.2f}", "storage-type": "Standard",
            "marketplace": "US", "days-of-supply": round(min(avail / daily[j], 999.0)),
            "estimated-excess-quantity": excess, "inbound-quantity": 0,
            "Total Reserved Quantity": int(acc.reserved[t, j]), "unfulfillable-quantity": 0,
            "fba-inventory-level-health-status": "Excess" if excess else "Healthy",
        }
        planning.append("\t".join(str(vals.get(h, "")) for h in PLANNING_HEADER))
        vals = {**ident, "mfn-listing-exists": "No", "afn-listing-exists": "Yes",
                "afn-warehouse-quantity": held, "afn-fulfillable-quantity": avail,
                "afn-unsellable-quantity": 0, "afn-reserved-quantity": int(acc.reserved[t, j]),
                "afn-total-quantity": held}
        myi.append("\t".join(str(vals.get(h, "")) for h in MYI_HEADER))
        if acc.stranded[t, j]:
            vals = {**ident, "primary-action": "Fix listing", "date-stranded": d.isoformat(),
                    "status-primary": "Stranded", "error-message": "Listing error",
                    "stranded-reason": "Listing error", "fulfilled-by": "Amazon",
                    "fulfillable-qty": avail, "unfulfillable-qty": 0,
                    "reserved-quantity": int(acc.reserved[t, j]), "inbound-shipped-qty": 0}
            stranded.append("\t".join(str(vals.get(h, "")) for h in STRANDED_HEADER))
    # File names as Seller Central gives them (see ipi.demo.write_day): the planning
    # report carries its date, the others have it in the name.
    (folder / f"{60000000000 + i}.txt").write_text("\n".join(planning) + "\n", encoding="utf-8")
    (folder / f"Inventory_{d.isoformat()}.txt").write_text("\n".join(myi) + "\n",
                                                           encoding="utf-8")
    (folder / f"stranded-{d:%Y%m%d}.tsv").write_text("\n".join(stranded) + "\n",
                                                    encoding="utf-8")


# --- loopback targets ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Loopback:
    """A real SMTP server and a JSON webhook on 127.0.0.1 that keep what they receive."""

    smtp_port: int
    hook_port: int
    mails: list[bytes] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"mailto://127.0.0.1:{self.smtp_port}?from=ipi@example.com"
                "&to=oncall@example.com&mode=insecure",
                f"json://127.0.0.1:{self.hook_port}/hook"]


@contextmanager
def loopback() -> Iterator[Loopback]:
    from aiosmtpd.controller import Controller

    box = Loopback(_free_port(), _free_port())

    class Mail:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.mails.append(envelope.content)  # kept before the 250: the send has landed
            return "250 OK"

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            box.posts.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    smtp = Controller(Mail(), hostname="127.0.0.1", port=box.smtp_port)
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", box.hook_port), Hook)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()


# --- replaying days -----------------------------------------------------------------


@dataclass
class Msg:
    channel: str  # email | webhook
    index: int  # the scenario's day index the run that sent it was for
    title: str
    payload: dict[str, Any] | None = None  # the webhook's JSON


@dataclass
class Replay:
    settings: Settings
    account: Account
    first: int  # the first day index replayed with alerts
    msgs: list[Msg] = field(default_factory=list)
    states: list[dict[tuple[str, str], str]] = field(default_factory=list)  # after each day


def make_settings(folder: Path, box: Loopback) -> Settings:
    """A configuration file with the two targets and nothing else: the default policy."""
    config = folder / "ipi.toml"
    config.write_text(
        '[store]\ndata_dir = "data"\n\n'
        f"[alerts]\nurls = {json.dumps(box.urls)}\n"
        "retry_backoff_minutes = 0  # a failed delivery is retried by the next day's run\n\n"
        f'[[accounts]]\nname = "{ACCOUNT}"\nmarketplaces = ["US"]\ndrop_dir = "drops"\n',
        encoding="utf-8")
    return load_settings(config, env={})  # no IPI_APPRISE_URLS from the shell


def subject(raw: bytes) -> str:
    msg = email.message_from_bytes(raw)
    return str(make_header(decode_header(msg.get("Subject", ""))))


def load_history(settings: Settings, account: Account, folder: Path, first: date) -> None:
    """Earlier downloads in one ingest and one score, no alerts (as flows/demo.py does)."""
    run = pipeline.ingest(pipeline.open_store(settings, account), account,
                          FileDrops(folder, move_done=False), first)
    pipeline.score(settings, account, first, run.days)


def alert_states(settings: Settings) -> dict[tuple[str, str], str]:
    rows = pipeline.open_store(settings, ACCOUNT).query(
        "SELECT marketplace, rule, state FROM alert_state WHERE account = $account",
        {"account": ACCOUNT})
    return {(r["marketplace"], r["rule"]): str(r["state"]) for r in rows}


def replay(rep: Replay, box: Loopback, days: range, write: Callable[[int, Path], object],
           day_of: Callable[[int], date]) -> None:
    """Each day as the daily flow runs it: the day's files into the drop folder, ingest,
    score, alert; what arrives meanwhile belongs to that day."""
    drops = rep.settings.drop_dir(rep.account)
    for i in days:
        day = day_of(i)
        write(i, drops)
        run = pipeline.ingest_account(rep.settings, rep.account, day)
        if run.failed:
            raise SystemExit(f"{day}: the generated reports did not load: {run.failed}")
        pipeline.score(rep.settings, rep.account, day, run.days)
        n_mail, n_post = len(box.mails), len(box.posts)
        pipeline.alert(rep.settings, rep.account, day, run)
        rep.msgs += [Msg("email", i, subject(m)) for m in box.mails[n_mail:]]
        rep.msgs += [Msg("webhook", i, str(p.get("title", "")), p) for p in box.posts[n_post:]]
        rep.states.append(alert_states(rep.settings))


# --- counting -----------------------------------------------------------------------


def tag_of(title: str) -> str | None:
    """The title's tag, when it starts with exactly one and names no other."""
    head = next((t for t in TAGS if title.startswith(t)), None)
    if head is None or any(t in title[len(head):] for t in TAGS):
        return None
    return head


def classify(msg: Msg) -> str:
    """first | repeat | resolved | warning | flapping | ops | untagged. The webhook by its
    state and severity when it has them, everything else by the title."""
    p = msg.payload or {}
    state, severity = p.get("state"), p.get("severity")
    if state or severity:
        if state == "flapping":
            return "flapping"
        if state == "repeat":  # a warning's repeat is a warning, as its title says
            return "repeat" if severity == "critical" else "warning"
        if state == "resolved" or severity == "resolved":
            return "resolved"
        if severity == "critical":
            return "first"
        if severity == "warning":
            return "warning"
        if severity == "info":
            return "ops"
    return classify_title(msg.title)


def classify_title(title: str) -> str:
    tag = tag_of(title)
    if tag == "[CRITICAL]":
        return "repeat" if "still" in title.lower() else "first"
    if tag == "[WARNING]":
        return "flapping" if "flapping" in title.lower() else "warning"
    return {"[RESOLVED]": "resolved", "[OPS]": "ops"}.get(tag or "", "untagged")


def contract_problems(msg: Msg) -> list[str]:
    """What a webhook message lacks or contradicts of the contract (bench/README.md)."""
    p = msg.payload or {}
    ops = classify(msg) == "ops"
    out = [f"no {k}" for k in (OPS_WEBHOOK_FIELDS if ops else WEBHOOK_FIELDS) if k not in p]
    if not ops and "alerts" in p and (not isinstance(p["alerts"], list) or not p["alerts"] or any(
            not isinstance(a, dict) or "state" not in a or "severity" not in a
            for a in p["alerts"])):
        out.append("alerts is not a list of alerts with state and severity")
    want = APPRISE_TYPE.get(str(p.get("severity")))
    if want and p.get("type") != want:
        out.append(f"type {p.get('type')!r} for severity {p.get('severity')!r}")
    by_fields, by_title = classify(msg), classify_title(msg.title)
    if "state" in p and by_title != by_fields:
        out.append(f"title says {by_title}, state/severity say {by_fields}")
    return out


def expected_crossings(daily: dict[int, float | None], first: int, threshold: float,
                       recovery: float, for_days: int) -> list[int]:
    """The days the below-threshold rule changes state, from the scores alone."""
    state, count, changes = "normal", 0, []
    for i in sorted(k for k in daily if k >= first):
        s = daily[i]
        if s is None:
            continue  # no data changes nothing
        if state == "firing":
            if s >= recovery:
                state, count = "normal", 0
                changes.append(i)
            continue
        if s < threshold:
            count += 1
            new = "firing" if count >= for_days else "pending"
            if new != state:
                state = new
                changes.append(i)
        elif state == "pending":
            state, count = "normal", 0
            changes.append(i)
    return changes


def recorded_events(settings: Settings) -> tuple[list[dict[str, Any]], str]:
    """The account's alert_event rows, through ipi's own reader when it has one (what
    ``ipi alerts history`` shows), else from the table; and where they came from."""
    store = pipeline.open_store(settings, ACCOUNT)
    for module in ("ipi.alerts", "ipi.alerts.control"):
        try:
            events = getattr(importlib.import_module(module), "events", None)
        except ImportError:
            continue
        if callable(events):
            try:
                with store.read() as con:
                    rows = list(events(con, ACCOUNT))
            except (TypeError, AttributeError):  # not (connection, account): read the table
                break
            return [plain(r) for r in rows], f"{module}.events"  # typed rows, as dicts
    return store.query("SELECT marketplace, rule, date, from_state, to_state FROM alert_event "
                       "WHERE account = $account ORDER BY recorded_at",
                       {"account": ACCOUNT}), "alert_event"


@dataclass
class Target:
    name: str
    channel: str  # email | webhook | account
    value: Any
    goal: str
    ok: bool
    key: str = ""  # the channel count it is about, for the table


def count_channel(rep: Replay, channel: str, recovery: int | None,
                  last_from: int | None) -> dict[str, Any]:
    msgs = [m for m in rep.msgs if m.channel == channel]
    kinds = [classify(m) for m in msgs]
    out: dict[str, Any] = {k: kinds.count(k) for k in (
        "first", "repeat", "resolved", "warning", "flapping", "ops", "untagged")}
    out["total"] = len(msgs)
    # The recovery: the first [RESOLVED] after the first page (a warning's resolve before
    # it is not the critical alert's); without one, the day the scores came back.
    paged = next((m.index for m, k in zip(msgs, kinds, strict=True) if k == "first"), None)
    resolved = [m.index for m, k in zip(msgs, kinds, strict=True)
                if k == "resolved" and paged is not None and m.index >= paged]
    out["recovery_index"] = resolved[0] if resolved else recovery
    out["recovery_from"] = "message" if resolved else "scores" if recovery is not None \
        else None
    r = out["recovery_index"]
    warn = [m for m, k in zip(msgs, kinds, strict=True) if k in ("warning", "flapping")]
    out["warnings_recovery_day"] = None if r is None else sum(m.index == r for m in warn)
    out["warnings_after_recovery"] = None if r is None else sum(
        r <= m.index <= r + AFTER_RECOVERY_DAYS for m in warn)
    out["last20"] = None if last_from is None else sum(m.index >= last_from for m in msgs)
    if channel == "webhook":
        # One message per account and run: a warning can ride in a message whose title is
        # [RESOLVED]. The webhook's alerts list shows it; the title does not.
        out["warning_alerts_recovery_day"] = None if r is None else sum(
            isinstance(a, dict) and a.get("severity") == "warning"
            for m in msgs if m.index == r for a in (m.payload or {}).get("alerts") or [])
        problems = [(m, contract_problems(m)) for m in msgs]
        out["contract_problems"] = sum(bool(p) for _, p in problems)
        out["problem_examples"] = [f"{m.title[:60]!r}: {'; '.join(p)}"
                                   for m, p in problems if p][:3]
    out["by_day"] = [[m.index, classify(m), m.title, *(
        [f"state={m.payload.get('state')} severity={m.payload.get('severity')} "
         f"type={m.payload.get('type')}"] if m.payload else [])] for m in msgs]
    return out


@dataclass
class Result:
    name: str
    dates: str
    account_days: dict[int, date]
    daily: dict[int, float | None]
    phases: dict[str, float]
    scenario_ok: bool
    scenario_note: str
    channels: dict[str, dict[str, Any]]
    events: dict[str, Any]
    targets: list[Target]
    seconds: float
    last_days: int | None = None  # flapping: the days of the alternating phase


# (daily estimates, daily recent readings, policy) -> what is not as the scenario intends
Intended = Callable[[dict[int, float | None], dict[int, float | None], Policy], str]


def evaluate(name: str, rep: Replay, day_of: Callable[[int], date],
             phases: dict[str, list[int]], intended: Intended,
             targets: Callable[[dict[str, dict[str, Any]], dict[str, Any]], list[Target]],
             last_from: int | None, t0: float) -> Result:
    policy = rep.settings.policy_for(rep.account)
    first_day = day_of(0)
    with pipeline.open_store(rep.settings, rep.account).read() as con:
        rows = scores(con, ACCOUNT)
    daily: dict[int, float | None] = {
        (r.date - first_day).days: (None if r.score is None or r.status == "unreliable"
                                    else float(r.score))
        for r in rows}
    # The day's factors alone: where the long-term ones hold the estimate (the 2020 rule)
    recent = {(r.date - first_day).days: r.score_recent for r in rows}
    means = {k: round(float(np.mean([daily[i] for i in v if daily.get(i) is not None])), 1)
             for k, v in phases.items()}
    note = intended(daily, recent, policy)
    crossings = expected_crossings(daily, rep.first, policy.threshold, policy.recovery,
                                   policy.for_days)
    # Every change of alert_state from one replayed day to the next (all rules).
    observed, before = 0, dict[tuple[str, str], str]()
    for snapshot in rep.states:
        observed += sum(snapshot.get(k, "normal") != before.get(k, "normal")
                        for k in {*snapshot, *before})
        before = snapshot
    recorded, source = recorded_events(rep.settings)
    below = [e for e in recorded if e.get("rule") == "below_threshold"]
    events = {
        "recorded": len(recorded), "read_with": source, "observed_state_changes": observed,
        "below_threshold_recorded": len(below), "below_threshold_expected": len(crossings),
        "expected_days": [day_of(i).isoformat() for i in crossings],
        "below_threshold_last20": None if last_from is None else sum(
            e["date"] >= day_of(last_from) for e in below),
        "by_rule": {r: sum(e.get("rule") == r for e in recorded)
                    for r in sorted({str(e.get("rule")) for e in recorded})},
    }
    recovery = next((i for i in crossings if (daily.get(i) or 0) >= policy.recovery), None)
    channels = {c: count_channel(rep, c, recovery, last_from) for c in ("email", "webhook")}
    checks = [Target("scores as intended", "account", "yes" if not note else "no", "yes",
                     not note)]
    for c, counts in channels.items():
        checks.append(Target("untagged titles", c, counts["untagged"], "0",
                             counts["untagged"] == 0, "untagged"))
    problems = channels["webhook"]["contract_problems"]
    checks.append(Target("contract problems", "webhook", problems, "0", problems == 0,
                         "contract_problems"))
    checks.append(Target("state changes recorded", "account", events["recorded"],
                         f"= {observed} observed", events["recorded"] == observed))
    checks.append(Target("below-threshold changes", "account", len(below),
                         f"= {len(crossings)} from scores", len(below) == len(crossings)))
    checks += targets(channels, events)
    return Result(name, f"{day_of(0)}..{day_of(max(daily))}", {i: day_of(i) for i in daily},
                  daily, means, not note, note, channels, events, checks,
                  time.perf_counter() - t0,
                  None if last_from is None else max(daily) + 1 - last_from)


def _per_channel(name: str, key: str, goal: str, test: Callable[[Any], bool]
                 ) -> Callable[[dict[str, dict[str, Any]]], list[Target]]:
    def make(channels: dict[str, dict[str, Any]]) -> list[Target]:
        return [Target(name, c, counts[key], goal,
                       counts[key] is not None and test(counts[key]), key)
                for c, counts in channels.items()]
    return make


# --- the scenarios ------------------------------------------------------------------


def progress(scenario: str, what: str, t0: float) -> None:
    print(f"[{scenario}] {what} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr,
          flush=True)


def run_demo(work: Path) -> Result:
    name, t0 = "demo seller", time.perf_counter()
    sim = simulate(DEMO_START, DEMO_DAYS)
    history = DEMO_DAYS - DEMO_REPLAY
    with loopback() as box:
        settings = make_settings(work, box)
        account = settings.accounts[0]
        for i in range(history):
            write_day(sim, i, work / "archive")
        load_history(settings, account, work / "archive", sim.day(0))
        progress(name, f"{history} days of history from {sim.day(0)} loaded and scored, "
                       "no alerts", t0)
        rep = Replay(settings, account, history)
        replay(rep, box, range(history, DEMO_DAYS), lambda i, f: write_day(sim, i, f), sim.day)
        progress(name, f"{DEMO_REPLAY} days replayed with alerts, {len(box.mails)} emails, "
                       f"{len(box.posts)} webhook posts", t0)

    def targets(channels: dict[str, dict[str, Any]], events: dict[str, Any]) -> list[Target]:
        return _per_channel("warnings on the recovery day", "warnings_recovery_day", "0",
                            lambda v: v == 0)(channels)

    def intended(daily: dict[int, float | None], _recent: dict[int, float | None],
                 policy: Policy) -> str:
        crossings = expected_crossings(daily, history, policy.threshold, policy.recovery,
                                       policy.for_days)
        return "" if len(crossings) == 2 else (
            f"the replayed estimate should cross the threshold once and recover once; "
            f"it changes state on day(s) {crossings}")

    phases = {"history": list(range(history)), "replayed": list(range(history, DEMO_DAYS))}
    return evaluate(name, rep, sim.day, phases, intended, targets, None, t0)


def run_generated(work: Path, *, flapping: bool, phase: int = PHASE,
                  across_check: bool = False) -> Result:
    name = "flapping" if flapping else "across a check" if across_check else "steady incident"
    t0 = time.perf_counter()
    acc = generate(CHECK_START if across_check else STEADY_START, flapping=flapping,
                   phase=phase)
    days = 3 * phase
    missing = {i * phase // PHASE for i in MISSING_STRANDED} if across_check else set()

    def write(i: int, folder: Path) -> None:
        write_generated(acc, i, folder)
        if i in missing:  # a partial day: the seller forgot that download
            (folder / f"stranded-{acc.day(i):%Y%m%d}.tsv").unlink()

    with loopback() as box:
        settings = make_settings(work, box)
        rep = Replay(settings, settings.accounts[0], 0)
        replay(rep, box, range(phase), write, acc.day)
        progress(name, f"days 1-{phase} (healthy) replayed from {acc.day(0)}", t0)
        replay(rep, box, range(phase, 2 * phase), write, acc.day)
        progress(name, f"days {phase + 1}-{2 * phase} (very unhealthy) replayed", t0)
        replay(rep, box, range(2 * phase, days), write, acc.day)
        progress(name, f"days {2 * phase + 1}-{days} "
                       f"({'alternating' if flapping else 'healthy'}) replayed, "
                       f"{len(box.mails)} emails, {len(box.posts)} webhook posts", t0)
    good = [i for i in range(days) if not acc.bad[i]]
    bad = [i for i in range(days) if acc.bad[i]]
    phases = {"healthy": list(range(phase)), "unhealthy": list(range(phase, 2 * phase))}
    if flapping:
        phases[f"last {phase}, healthy days"] = [i for i in good if i >= 2 * phase]
        phases[f"last {phase}, unhealthy days"] = [i for i in bad if i >= 2 * phase]
    else:
        phases["healthy again"] = list(range(2 * phase, days))

    def targets(channels: dict[str, dict[str, Any]], events: dict[str, Any]) -> list[Target]:
        if flapping:
            last = events["below_threshold_last20"]  # the last phase's (20 days by default)
            return [*_per_channel(f"messages in the last {phase} days", "last20", "<= 4",
                                  lambda v: v <= 4)(channels),
                    Target(f"below-threshold changes, last {phase} days", "account", last,
                           f">= {phase}", last >= phase)]
        gaps = len({i for i in missing if i - 1 not in missing})
        return [*_per_channel("first pages", "first", "= 1", lambda v: v == 1)(channels),
                *_per_channel("repeats", "repeat", "<= 3", lambda v: v <= 3)(channels),
                *_per_channel("resolves", "resolved", "= 1", lambda v: v == 1)(channels),
                *_per_channel("warnings after recovery", "warnings_after_recovery", "0",
                              lambda v: v == 0)(channels),
                *(_per_channel("ops messages, one a gap", "ops", f"= {gaps}",
                               lambda v: v == gaps)(channels) if across_check else [])]

    def intended(daily: dict[int, float | None], recent: dict[int, float | None],
                 policy: Policy) -> str:
        # What the scenario claims: healthy days far over the recovery threshold (and
        # over the check window's margin), unhealthy days far under the threshold.
        # Healthy is 100 over: Amazon scores accounts with nothing wrong 520-680
        # (ipi/score/reference.csv), and so does the model fitted to them. Unhealthy
        # is the day's factors: the long-term ones may hold the estimate over (the 2020
        # rule), which is what the alerts are measured on, not what the scenario is.
        healthy_min, unhealthy_max = policy.threshold + 100, policy.threshold - 100
        low = [acc.day(i).isoformat() for i in good if (daily.get(i) or 0) < healthy_min]
        high = [acc.day(i).isoformat() for i in bad
                if (recent.get(i) or 1000) > unhealthy_max]
        return "; ".join([f"healthy days under {healthy_min:.0f}: {', '.join(low)}"] * bool(low)
                         + [f"unhealthy days over {unhealthy_max:.0f}: {', '.join(high)}"]
                         * bool(high))

    return evaluate(name, rep, acc.day, phases, intended, targets,
                    2 * phase if flapping else None, t0)


# Each scenario with its data folder and the days per phase of the generated account.
SCENARIOS: dict[str, Callable[[Path, int], Result]] = {
    "demo": lambda work, phase: run_demo(work),  # a fixed size
    "steady": lambda work, phase: run_generated(work, flapping=False, phase=phase),
    "flapping": lambda work, phase: run_generated(work, flapping=True, phase=phase),
    "check": lambda work, phase: run_generated(work, flapping=False, phase=phase,
                                               across_check=True),
}


# --- output -------------------------------------------------------------------------

ROWS = [  # (label, key in the channel counts)
    ("first pages", "first"), ("repeats", "repeat"), ("resolves", "resolved"),
    ("warnings on the recovery day", "warnings_recovery_day"),
    ("warning alerts inside messages, recovery day", "warning_alerts_recovery_day"),
    (f"warnings after recovery ({AFTER_RECOVERY_DAYS} days)", "warnings_after_recovery"),
    ("flapping notices", "flapping"), ("other warnings", "warning"), ("ops", "ops"),
    ("untagged titles", "untagged"), ("total messages", "total"),
    ("messages in the last 20 days", "last20"), ("contract problems", "contract_problems"),
]


def _goal(res: Result, key: str, channel: str) -> Target | None:
    return next((t for t in res.targets if t.channel == channel and t.key == key), None)


def table(res: Result) -> str:
    def cell(v: Any) -> str:
        return "-" if v is None else str(v)

    rows = [("measure", "email", "webhook", "target", "result")]
    for label, key in ROWS:
        vals = [res.channels[c].get(key) for c in ("email", "webhook")]
        if key == "last20":
            if vals == [None, None]:
                continue
            label = f"messages in the last {res.last_days} days"
        goals = [_goal(res, key, c) for c in ("email", "webhook")]
        goal = next((g.goal for g in goals if g), "")
        verdict = "" if not any(goals) else "PASS" if all(g.ok for g in goals if g) else \
            "FAIL (" + ", ".join(c for c, g in zip(("email", "webhook"), goals, strict=True)
                                 if g and not g.ok) + ")"
        rows.append((label, cell(vals[0]), cell(vals[1]), goal, verdict))
    for t in res.targets:
        if t.channel == "account":
            rows.append((t.name, cell(t.value), cell(t.value), t.goal,
                         "PASS" if t.ok else "FAIL"))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("| " + " | ".join(
            r[k].rjust(widths[k]) if k in (1, 2) else r[k].ljust(widths[k]) for k in range(5))
            + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(res: Result) -> str:
    rec = res.channels["webhook"]["recovery_index"]
    rec_from = res.channels["webhook"]["recovery_from"]
    head = [f"## {res.name}: {res.dates}, {res.seconds:.0f} s",
            "mean estimate: " + ", ".join(f"{k} {v:.0f}" for k, v in res.phases.items()),
            "recovery day: " + (f"{res.account_days[rec]} (from the {rec_from})"
                                if rec is not None else "none")
            + "; below-threshold changes expected on "
            + (", ".join(res.events["expected_days"]) or "no day")]
    if res.scenario_note:
        head.append(f"NOT AS INTENDED: {res.scenario_note}")
    tail = [f"  webhook contract: {p}" for p in res.channels["webhook"]["problem_examples"]]
    tail += [f"  alert_event rows by rule ({res.events['read_with']}): " + ", ".join(
        f"{k} {v}" for k, v in res.events["by_rule"].items())]
    return "\n".join([*head, "", table(res), *tail])


def run_scenario(key: str, keep: bool, out_dir: Path = OUT, phase: int = PHASE) -> Result:
    """One scenario in a data folder of its own under ``out_dir``."""
    # ipi's own warnings (a failed delivery) still show; apprise's chatter does not.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apprise").setLevel(logging.ERROR)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"alert-budget-{key}-", dir=out_dir))
    try:
        return SCENARIOS[key](work, phase)
    finally:
        if keep:
            print(f"[{key}] data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help=f"scenarios to run, comma-separated (default {','.join(SCENARIOS)})")
    ap.add_argument("--json", type=Path, help="also write the numbers to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep each scenario's data folder under OUT_DIR")
    ap.add_argument("--out-dir", type=Path, default=OUT,
                    help="where the scenarios' data folders go (default bench/out)")
    ap.add_argument("--phase", type=int, default=PHASE,
                    help=f"days per phase of the generated account (steady, flapping; "
                         f"default {PHASE}; the demo seller has a fixed size)")
    ap.add_argument("--jobs", type=int, default=3,
                    help="scenarios run at once, each in its own process (default 3; "
                         "1: one after the other, in this process)")
    ap.add_argument("--verbose", action="store_true", help="print every message received")
    args = ap.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if args.phase < 2:
        ap.error("--phase must be at least 2")
    out_dir = args.out_dir.resolve()
    t_all = time.perf_counter()
    if args.jobs > 1 and len(chosen) > 1:
        # The scenarios share nothing (own folder, database, servers): one process each.
        # Most of a day is DuckDB opening and closing the database, which holds the GIL.
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(chosen)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(run_scenario, key, args.keep, out_dir, args.phase)
                       for key in chosen]
            results = [f.result() for f in futures]
    else:
        results = [run_scenario(key, args.keep, out_dir, args.phase) for key in chosen]
    wall = time.perf_counter() - t_all

    for res in results:
        print(report(res))
        if args.verbose:
            for c in ("email", "webhook"):
                for i, kind, title, *fields in res.channels[c]["by_day"]:
                    print(f"    {c:7} {res.account_days.get(i, i)} {kind:9} {title}"
                          + "".join(f"  ({f})" for f in fields))
        print()
    failed = [(r.name, t) for r in results for t in r.targets if not t.ok]
    print(f"wall time {wall:.0f} s; " + ("all targets met" if not failed else
          f"{len(failed)} target(s) missed: " + "; ".join(
              f"{n}: {t.name} ({t.channel}) {t.value}, want {t.goal}" for n, t in failed)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "wall_seconds": round(wall, 1), "passed": not failed,
            "scenarios": {r.name: {
                "dates": r.dates, "seconds": round(r.seconds, 1), "phase_means": r.phases,
                "scores": {r.account_days[i].isoformat(): s for i, s in sorted(r.daily.items())},
                "scenario_ok": r.scenario_ok, "scenario_note": r.scenario_note,
                "channels": r.channels,
                "events": r.events,
                "targets": [vars(t) for t in r.targets],
            } for r in results},
        }, indent=2, default=str) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
