"""The effective configuration, for ``ipi config show``: every setting after defaults and
overrides, each with where it came from.

Never a secret: URLs are shown the way apprise prints them in privacy mode (tokens and
passwords masked), and of the environment only variable names and whether they are set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ipi.settings import APPRISE_URLS_ENV, Account, Policy, Settings, effective_policy


@dataclass(frozen=True)
class Value:
    """One setting's value and its origin: default, file, environment or account override."""

    value: Any
    source: str = "default"
    section: str | None = None  # the table of the file it was read from
    note: str | None = None
    is_set: bool | None = None  # for the names of environment variables: set or not

    def comment(self) -> str:
        parts = [" ".join(p for p in ("from", self.source, self.section) if p)]
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        out = {"value": _plain(self.value), "from": self.source, "section": self.section,
               "note": self.note, "set": self.is_set}
        return {k: v for k, v in out.items() if v is not None or k == "value"}


def _plain(v: Any) -> Any:
    if isinstance(v, BaseModel):  # a nested table, e.g. [policy] carry_days
        return v.model_dump()
    if isinstance(v, Path | date):
        return str(v)
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    return v


def _from(raw: Mapping[str, Any], key: str, section: str, value: Any,
          note: str | None = None) -> Value:
    if key in raw:
        return Value(value, "file", section)
    return Value(value, "default", note=note)


def _fields(model: BaseModel, raw: Mapping[str, Any], section: str) -> dict[str, Any]:
    return {k: _from(raw, k, section, getattr(model, k)) for k in type(model).model_fields}


def _private(url: str) -> str:
    """A URL as apprise prints it in privacy mode, without its query: tokens masked."""
    import apprise

    import ipi.alerts.deliver  # noqa: F401  (registers ipi's own URL schemes with apprise)

    server: Any = apprise.Apprise.instantiate(url)
    if not server:
        return "(a URL apprise does not understand, not shown)"
    return str(server.url(privacy=True)).split("?")[0]


def _env_name(name: str, raw: Mapping[str, Any], key: str, section: str,
              env: Mapping[str, str]) -> Value:
    value = _from(raw, key, section, name)
    state = "set" if env.get(name) else "not set"
    return Value(name, value.source, value.section, f"{name} is {state}", bool(env.get(name)))


def _policy(policy: Policy, file_policy: Mapping[str, Any],
            account: Account | None = None) -> dict[str, Any]:
    """[policy], or an account's effective policy: each key from the account's override,
    the file's [policy] or the default."""
    if account is not None:
        policy = effective_policy(policy, account)
    out: dict[str, Any] = {}
    for key in Policy.model_fields:
        value = getattr(policy, key)
        if account is not None and key in account.policy:
            out[key] = Value(value, "account override", "[accounts.policy]")
        elif account is not None and key == "threshold" and account.threshold is not None:
            out[key] = Value(value, "account override", "[[accounts]] threshold")
        else:
            out[key] = _from(file_policy, key, "[policy]", value)
    if policy.recovery_threshold is None:
        out["recovery_threshold"] = Value(policy.recovery, out["recovery_threshold"].source,
                                          note="threshold + 20")
    return out


def _account(settings: Settings, account: Account, raw: Mapping[str, Any],
             file: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    section = "[[accounts]]"
    cron, tz = settings.schedule_of(account)
    out: dict[str, Any] = {
        "name": Value(account.name, "file", section),
        "marketplaces": _from(raw, "marketplaces", section, account.marketplaces),
        "source": _from(raw, "source", section, account.source),
        "drop_dir": _from(raw, "drop_dir", section, settings.drop_dir(account),
                          "<data_dir>/drops/<name>"),
        "schedule": (Value(cron, "file", section) if account.schedule
                     else _from(file.get("run", {}), "schedule", "[run]", cron)),
        "timezone": (Value(tz, "file", section) if account.timezone
                     else Value(tz, "file", "[run]") if settings.timezone
                     else Value(tz, note=f"{account.marketplaces[0]}'s time zone")),
        "policy": _policy(settings.policy, file.get("policy", {}), account),
    }
    if account.source == "sp-api":
        sp_raw = raw.get("sp_api", {})
        sp = _fields(account.sp_api, sp_raw, "[accounts.sp_api]")
        for key in ("client_id_env", "client_secret_env"):
            sp[key] = _env_name(getattr(account.sp_api, key), sp_raw, key,
                                "[accounts.sp_api]", env)
        sp["refresh_token_env"] = _env_name(account.refresh_token_env, sp_raw,
                                            "refresh_token_env", "[accounts.sp_api]", env)
        for key in ("client_id_block", "client_secret_block", "refresh_token_block"):
            if getattr(account.sp_api, key):
                sp[key] = Value(getattr(account.sp_api, key), "file", "[accounts.sp_api]",
                                "a Prefect Secret block, read by the flows")
        out["sp_api"] = sp
    return out


def effective(settings: Settings, raw: Mapping[str, Any],
              env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting as a tree of sections (dicts), arrays of tables (lists) and ``Value``s;
    ``raw`` is the parsed file the settings came from."""
    store, run = raw.get("store", {}), raw.get("run", {})
    file_alerts = raw.get("alerts", {})
    alerts: dict[str, Any] = _fields(settings.alerts, file_alerts, "[alerts]")
    alerts["urls"] = _from(file_alerts, "urls", "[alerts]",
                           [_private(u) for u in settings.alerts.urls])
    env_urls = settings.apprise_urls()[len(settings.alerts.urls):]
    alerts[APPRISE_URLS_ENV] = Value("***" if env_urls else None, "environment",
                                     note=f"{len(env_urls)} URL(s), not shown" if env_urls
                                     else None)
    targets = []
    for t, t_raw in zip(settings.alerts.targets, file_alerts.get("targets", []), strict=True):
        target = _fields(t, t_raw, "[[alerts.targets]]")
        if t.url is not None:
            target["url"] = Value(_private(t.url), "file", "[[alerts.targets]]")
        if t.url_env is not None:
            target["url_env"] = _env_name(t.url_env, t_raw, "url_env", "[[alerts.targets]]",
                                          env)
        targets.append(target)
    alerts["targets"] = targets
    return {
        "config": str(settings.config_path),
        "store": {
            "data_dir": _from(store, "data_dir", "[store]", settings.data_dir),
            "database": _from(store, "database", "[store]", settings.database_path,
                              "<data_dir>/ipi.duckdb"),
            "busy_timeout": _from(store, "busy_timeout", "[store]", settings.busy_timeout),
            "run_lock_wait": _from(store, "run_lock_wait", "[store]", settings.run_lock_wait),
        },
        "run": {
            "parallel_accounts": _from(run, "parallel_accounts", "[run]",
                                       settings.parallel_accounts),
            "schedule": _from(run, "schedule", "[run]", settings.schedule),
            "timezone": _from(run, "timezone", "[run]", settings.timezone,
                              "each account's first marketplace's zone"),
            "server_port": _from(run, "server_port", "[run]", settings.server_port),
        },
        "policy": _policy(settings.policy, raw.get("policy", {})),
        "alerts": alerts,
        "backfill": _fields(settings.backfill, raw.get("backfill", {}), "[backfill]"),
        "web": _fields(settings.web, raw.get("web", {}), "[web]"),
        "capacity": _fields(settings.capacity, raw.get("capacity", {}), "[capacity]"),
        "accounts": [_account(settings, a, a_raw, raw, env)
                     for a, a_raw in zip(settings.accounts, raw.get("accounts", []),
                                         strict=True)],
    }


def as_json(tree: Any) -> Any:
    """The tree as JSON-ready data: each setting an object with its value and origin."""
    if isinstance(tree, Value):
        return tree.as_json()
    if isinstance(tree, dict):
        return {k: as_json(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [as_json(v) for v in tree]
    return tree


def _toml(v: Any) -> str:
    if v is None:
        return "(not set)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, BaseModel):  # an inline table
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.model_dump().items()) + " }"
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str | Path):
        return json.dumps(str(v))
    return str(v)


def as_text(tree: dict[str, Any]) -> str:
    """TOML-ish sections, each value with a trailing ``# from ...`` comment."""
    lines = [f"# ipi configuration: {tree['config']} (every setting, defaults included)"]

    def table(header: str, name: str, items: dict[str, Any]) -> None:
        rows = [(f"{k} = {_toml(v.value)}", v.comment()) for k, v in items.items()
                if isinstance(v, Value)]
        # Comments line up, except after the odd long value.
        width = max((len(r[0]) for r in rows if len(r[0]) <= 48), default=0)
        lines.extend(["", header, *(f"{a.ljust(width)}  # {c}" for a, c in rows)])
        for k, v in items.items():
            if isinstance(v, dict):
                table(f"[{name}.{k}]", f"{name}.{k}", v)
            elif isinstance(v, list):
                for item in v:
                    table(f"[[{name}.{k}]]", f"{name}.{k}", item)

    for name, section in tree.items():
        if isinstance(section, dict):
            table(f"[{name}]", name, section)
        elif isinstance(section, list):
            for item in section:
                table(f"[[{name}]]", name, item)
    return "\n".join(lines) + "\n"
