"""The alert levers: ``alerts test``, ``history``, ``ack``, ``silence`` (add, list,
expire) and ``check``; and the older ``alerts silence ACCOUNT ...`` form, read as
``silence add``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ipi.cli.common import day_arg, print_json, rows_of, settings_of
from ipi.errors import UsageError

if TYPE_CHECKING:
    from ipi.api import Rows
    from ipi.cli import Commands


def register(c: Commands) -> None:
    alerts = c.group("alerts", "test targets, show history, acknowledge, silence, check")
    alerts.add("test", cmd_alerts_test, "send a test message to every target; report each",
               answer=True)
    ap = alerts.add("history", cmd_alerts_history, "alert state changes and messages, newest "
                    "first", json=True)
    ap.add_argument("--account", help="only this account (default: every account's, and "
                    "the [OPS] messages of runs that failed as a whole)")
    ap.add_argument("--limit", type=int, default=20, help="how many of each (default 20)")
    ap = alerts.add("ack", cmd_alerts_ack, "acknowledge what fires: no repeats until it "
                    "resolves or gets materially worse")
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    silence = alerts.group("silence", "mute an account's alerts until a date; list or expire "
                           "silences")
    ap = silence.add("add", cmd_alerts_silence, "mute an account's alerts through a date "
                     "(`ipi alerts silence ACCOUNT ...` is short for this)")
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--until", type=day_arg, required=True, help="last muted day, YYYY-MM-DD")
    ap.add_argument("--reason", required=True, help="why (shown in the history)")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    ap = silence.add("list", cmd_alerts_silence_list, "silences in force, with their ids",
                     json=True)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--all", action="store_true", help="also those ended or expired")
    ap = silence.add("expire", cmd_alerts_silence_expire, "end a silence now")
    ap.add_argument("id", metavar="ID", type=int, help="the silence's id (silence list)")
    ap.add_argument("--account", help="the silence's account (needed only when two accounts "
                    "have a silence with this id)")
    ap = alerts.add("check", cmd_alerts_check, "evaluate the alerts without ingesting: "
                    "retries pending deliveries and checks that data is fresh")
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--date", type=day_arg, help="today, for the freshness check "
                    "(default: each account's today, in its time zone)")


_SILENCE_VERBS = {"add", "list", "expire", "-h", "--help"}


def spell_out(argv: Sequence[str]) -> list[str]:
    """``ipi alerts silence ACCOUNT ...`` (the older form) as ``silence add ACCOUNT ...``."""
    argv = list(argv)
    for i in range(len(argv) - 2):
        if argv[i:i + 2] == ["alerts", "silence"] and argv[i + 2] not in _SILENCE_VERBS:
            argv.insert(i + 2, "add")
            break
    return argv


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from ipi.alerts.deliver import Notifier
    from ipi.errors import DeliveryError

    settings = settings_of(args)
    notifier = Notifier.from_settings(settings)
    if not notifier.targets:
        print("no alert targets: set alerts.urls, [[alerts.targets]], alerts.apprise_config "
              "or IPI_APPRISE_URLS")
        return 1
    failed = 0
    for t in notifier.targets:
        scope = ", ".join(sorted(t.kinds)) + (f"; accounts {', '.join(sorted(t.accounts))}"
                                              if t.accounts else "")
        try:
            notifier.send(t, "IPI test alert", "A test message from `ipi alerts test`: this "
                          "target will receive " + scope + " alerts.", severity="info")
            print(f"  ok    {t.name} ({scope})")
        except DeliveryError as exc:
            failed += 1
            print(f"  FAIL  {t.name} ({scope}): {exc}")
    return 1 if failed else 0


def cmd_alerts_history(args: argparse.Namespace) -> int:
    lib = rows_of(args)
    changes = lib.alerts(args.account, limit=args.limit)
    sent = lib.messages(args.account, limit=args.limit)
    if args.json:
        print_json({"events": changes, "messages": sent})
        return 0
    print("State changes (newest first):" if changes else "No alert state changes yet.")
    for e in changes:
        value = f" at {e.value:.0f}" if e.value is not None else ""
        note = f" ({e.note})" if e.note else ""
        print(f"  {e.date}  {e.account} {e.marketplace} {e.rule}: "
              f"{e.from_state} -> {e.to_state}{value}{note}")
    print("\nMessages (newest first):" if sent else "\nNo messages yet.")
    for m in sent:
        print(f"  {m.date}  {m.title}  -> {m.deliveries or m.status}")
    return 0


def _marketplace(lib: Rows, account: Any, marketplace: str | None) -> str | None:
    return lib.marketplace(account, marketplace) if marketplace else None


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    from ipi.alerts.control import acknowledge

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = _marketplace(lib, account, args.marketplace)
    with lib.store(account.name).write() as con:
        done = acknowledge(con, account.name, mp)
    if not done:
        print(f"nothing is firing for {account.name}{' ' + mp if mp else ''}: nothing to "
              "acknowledge")
        return 0
    policy = lib.settings.policy_for(account)
    for a in done:
        score = f" at {a.score:.0f}" if a.score is not None else ""
        print(f"acknowledged {account.name} {a.marketplace} {a.rule.replace('_', ' ')} "
              f"(firing since {a.since}; estimate{score} on {a.as_of})")
    print(f"No repeats until it resolves, or the estimate falls "
          f"{policy.repeat_worse_points:.0f} points more"
          + (f" or its whole band goes under {policy.threshold:.0f}"
             if policy.repeat_band_under else "") + ".")
    return 0


def cmd_alerts_silence(args: argparse.Namespace) -> int:
    from ipi.alerts.control import add_silence

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = _marketplace(lib, account, args.marketplace)
    with lib.store(account.name).write() as con:
        sid = add_silence(con, account.name, mp, args.until, args.reason,
                          lib.settings.today(account))
    print(f"silence {sid}: {account.name}{' ' + mp if mp else ''} until {args.until} "
          f"(inclusive): {args.reason}. Alerts keep their state; a still-firing one is sent "
          f"when the silence ends (or `ipi alerts silence expire {sid}`).")
    return 0


def cmd_alerts_silence_list(args: argparse.Namespace) -> int:
    rows = rows_of(args).silences(args.account, ended=args.all)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no silences in force" + ("" if args.all else " (--all shows ended ones)"))
    for r in rows:
        print(f"  {r.id:>4}  {r.status:<7}  {r.account} {r.marketplace} until "
              f"{r.until}: {r.reason}")
    return 0


def cmd_alerts_silence_expire(args: argparse.Namespace) -> int:
    from ipi.alerts.control import expire_silence

    lib = rows_of(args)
    # Each account's file numbers its own silences: find whose this one is.
    names = ([lib.account(args.account).name] if args.account
             else [a.name for a in lib.settings.accounts])
    holders = [n for n in names if any(r.id == args.id for r in lib.silences(n, ended=True))]
    if len(holders) > 1:
        raise UsageError(f"{', '.join(holders)} each have a silence {args.id}: name the "
                         "account with --account")
    with lib.store((holders or names)[0]).write() as con:
        gone = expire_silence(con, args.id)
    print(f"silence {gone.id} ({gone.account} {gone.marketplace}, until "
          f"{gone.until}) expired: the next run pages what is still firing")
    return 0


def cmd_alerts_check(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.deliver import Notifier
    from ipi.alerts.engine import alert_account
    from ipi.score import latest_day

    lib = rows_of(args)
    settings = lib.settings
    notifier = Notifier.from_settings(settings)
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    for account in accounts:
        today = args.date or settings.today(account)
        store = lib.store(account.name)
        with store.read() as con:
            latest = latest_day(con, account.name)
        run = alert_account(store, notifier, account.name, latest or today,
                            settings.policy_for(account), settings.alerts.top_skus,
                            today=today, backoff_minutes=settings.alerts.retry_backoff_minutes,
                            link=settings.alerts.ui_url,
                            at_stake=pipeline.at_stake(settings, account))
        sent = ", ".join(f"{d.target} {d.status}" for d in run.deliveries) or "nothing to send"
        print(f"{account.name}: latest estimate {latest or 'none'}; {sent}")
    return 0
