"""Setting up and looking around: ``check`` (what is missing, per account), ``init`` (a
starting ipi.toml), ``config show``, ``web`` (the dashboard alone) and ``completion``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ipi.cli.common import print_json, settings_of
from ipi.errors import ConfigError

if TYPE_CHECKING:
    from ipi.cli import Commands


def register(c: Commands) -> None:
    sp = c.add("check", cmd_check, "verify each account's drop folder, or its SP-API "
               "credentials and report access, and say what is missing", json=True)
    sp.add_argument("--account", help="only this account")

    sp = c.add("init", cmd_init, "write a commented ipi.toml and the drop folder to start "
               "from, and say what to do next")
    sp.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                    help="where to write ipi.toml (default: here); never overwrites")

    config = c.group("config", "show the effective configuration")
    config.add("show", cmd_config_show, "every setting, defaults included, with where it "
               "comes from; secrets never shown", json=True)

    sp = c.add("web", cmd_web, "serve the dashboard alone, read-only (`ipi serve` serves it "
               "too): every account, its score, factors, drivers, what-if")
    sp.add_argument("--host", help="address to listen on (default: [web] host, 127.0.0.1); "
                    "any other than this machine's loopback needs IPI_WEB_TOKEN")
    sp.add_argument("--port", type=int, help="port (default: [web] port, 8450; 0: any free)")

    sp = c.add("completion", cmd_completion, "print a shell completion script, e.g. "
               "`ipi completion bash > /etc/bash_completion.d/ipi`", answer=True)
    sp.add_argument("shell", choices=("bash", "zsh", "tcsh"))


def cmd_check(args: argparse.Namespace) -> int:
    from ipi.alerts.deliver import Notifier
    from ipi.sources.files import not_dedicated, preflight, report_files
    from ipi.sources.sp_api import SpApiSource, resolve_credentials

    settings = settings_of(args)
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    if not accounts:
        raise ConfigError(f"no [[accounts]] in {settings.config_path}")
    report = []
    broken = Notifier.from_settings(settings).broken()
    for account in accounts:
        results: list[tuple[str, bool, str]] = []
        if account.source == "files":
            drop = settings.drop_dir(account)
            refused = not_dedicated(drop)
            ok = drop.is_dir() and refused is None
            waiting = list(report_files([drop])) if ok else []
            results.append(("drop folder", ok, refused or (
                f"{drop} ({len(waiting)} file(s) waiting)" if ok
                else f"{drop} does not exist: create it and drop reports there")))
            bad = [(p, why) for p in waiting if (why := preflight(p))]
            if bad:
                results.append(("drop files", False, f"{len(bad)} of {len(waiting)} will "
                                "not load: " + "; ".join(f"{p.name}: {why}"
                                                         for p, why in bad)))
        else:
            try:  # Prefect Secret blocks are read through the lookup flows/cli.py gives
                source = SpApiSource(account, resolve_credentials(account, lookup=args.secrets),
                                     settings.spool_dir)
            except ConfigError as exc:
                results.append(("credentials", False, str(exc)))
            else:
                try:
                    results += source.check()
                finally:
                    source.close()
        for t in broken:  # a variable unset, a URL refused: this account's alerts wait
            if t.wants(account.name, "inventory") or t.wants(account.name, "ops"):
                results.append((f"alert {t.name}", False, f"{t.problem}: this account's "
                                "alerts routed to it would wait in the outbox; fix it, or "
                                "remove the target"))
        report.append((account, results))
    failed = sum(not ok for _, results in report for _, ok, _ in results)
    if args.json:
        print_json([{"account": a.name, "source": a.source, "marketplaces": a.marketplaces,
                     "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in results]}
                    for a, results in report])
        return 1 if failed else 0
    for account, results in report:
        print(f"{account.name} ({account.source}, {', '.join(account.marketplaces)})")
        for name, ok, detail in results:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
    if failed:
        print(f"{failed} check(s) failed")
    return 1 if failed else 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from ipi.effective import as_json, as_text, effective
    from ipi.settings import read_config

    settings = settings_of(args)  # checked whole first: a bad file is refused, not shown
    _, raw = read_config(settings.config_path)
    tree = effective(settings, raw, os.environ)
    sys.stdout.write(json.dumps(as_json(tree), indent=2) + "\n" if args.json
                     else as_text(tree))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    import shlex

    from ipi.starter import init

    config, settings = init(args.dir)
    cfg = shlex.quote(str(config))
    drops = ", ".join(str(settings.drop_dir(a)) for a in settings.accounts)
    print(f"wrote {config} and created the drop folder {drops}\n"
          "Next:\n"
          f"  1. Edit {config}: name your account and list its marketplaces (the drop\n"
          "     folder follows the name: <data_dir>/drops/<name>/).\n"
          "  2. Download from Seller Central Manage Inventory Health, Stranded inventory and\n"
          "     Manage FBA Inventory (active listings) into the drop folder, under any names.\n"
          f"  3. ipi check --config {cfg}    says what is missing\n"
          f"  4. ipi run --config {cfg}      loads, scores and alerts once (ipi serve: daily)\n"
          "  5. export IPI_APPRISE_URLS='<apprise URLs>' (URLs with tokens stay out of the\n"
          f"     file), then ipi alerts test --config {cfg}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from ipi.web import TOKEN_ENV, serve

    settings = settings_of(args)
    token = os.environ.get(TOKEN_ENV) or None
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        serve(settings, host=host, port=port, token=token, ready=lambda url: print(
            f"ipi web: the dashboard is at {url}"
            + (f" (every request needs the token in {TOKEN_ENV})" if token else "")
            + "; Ctrl-C stops it", flush=True))
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(args.parser, shell=args.shell))
    return 0
