"""One typed Settings object, read once per run from a TOML file and the environment.

The file holds no secrets. Alert URLs that carry tokens or passwords come from
the environment (``IPI_APPRISE_URLS``) and are kept as ``SecretStr`` so they are
never printed.

The whole file is checked when it is read, each account's policy overrides included:
unknown keys (with the nearest valid one), unknown marketplaces, values out of their
ranges. Every problem becomes one line of a ``ConfigError`` naming the file, the section
and the key, so no command starts work on a configuration that would fail later.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from ipi.errors import ConfigError
from ipi.safe import credentials_url

CONFIG_ENV = "IPI_CONFIG"
# Reads a named secret (flows pass one for Prefect Secret blocks; ipi/ never imports
# prefect): the one shape every face hands the library.
SecretLookup = Callable[[str], str]
APPRISE_URLS_ENV = "IPI_APPRISE_URLS"

# Amazon dates a marketplace's reports in its own time zone: a run scheduled in that zone
# finds yesterday's reports whatever zone the machine is in.
MARKETPLACE_TIMEZONES = {
    "US": "America/Los_Angeles", "CA": "America/Los_Angeles", "MX": "America/Los_Angeles",
    "BR": "America/Sao_Paulo", "UK": "Europe/London", "DE": "Europe/Berlin",
    "FR": "Europe/Paris", "IT": "Europe/Rome", "ES": "Europe/Madrid", "NL": "Europe/Amsterdam",
    "SE": "Europe/Stockholm", "PL": "Europe/Warsaw", "BE": "Europe/Brussels",
    "TR": "Europe/Istanbul", "AE": "Asia/Dubai", "SA": "Asia/Riyadh", "EG": "Africa/Cairo",
    "IN": "Asia/Kolkata", "JP": "Asia/Tokyo", "AU": "Australia/Sydney", "SG": "Asia/Singapore",
}
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # it names folders
DEFAULT_SCHEDULE = "30 7 * * *"  # 07:30: Amazon's reports for yesterday are ready by then


def _check_cron(v: str | None) -> str | None:
    if v is not None and len(v.split()) != 5:
        raise ValueError(f"{v!r} is not a cron line: five fields, e.g. \"30 7 * * *\" "
                         "(07:30 every day)")
    return v


def _check_timezone(v: str | None) -> str | None:
    if v is not None:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a time zone: use an IANA name such as "
                             "\"America/New_York\" or \"Europe/Berlin\"") from None
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpApi(_Model):
    """How to reach the Selling Partner API for one account. Names of secrets, never values."""

    # Environment variables holding the LWA client id and secret of the SP-API app, and
    # the seller's refresh token. Default: IPI_LWA_CLIENT_ID, IPI_LWA_CLIENT_SECRET
    # (one app for every account) and IPI_<ACCOUNT>_REFRESH_TOKEN.
    client_id_env: str = "IPI_LWA_CLIENT_ID"
    client_secret_env: str = "IPI_LWA_CLIENT_SECRET"
    refresh_token_env: str | None = None
    # Or Prefect Secret blocks, read by the flows when they run under Prefect.
    client_id_block: str | None = None
    client_secret_block: str | None = None
    refresh_token_block: str | None = None
    # The refresh token and client secret go to these: https only (http to 127.0.0.1 or
    # localhost, for a test double).
    endpoint: str | None = None  # default: the marketplace's regional SP-API endpoint
    token_url: str = "https://api.amazon.com/auth/o2/token"
    report_types: tuple[str, ...] = (
        "GET_FBA_INVENTORY_PLANNING_DATA",
        "GET_STRANDED_INVENTORY_UI_DATA",
        "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
    )
    # seconds to wait for Amazon to generate the reports
    poll_deadline: float = Field(default=3600.0, gt=0)
    # First wait between status checks; then a quarter of the time so far, up to 2 minutes.
    poll_interval: float = Field(default=15.0, gt=0)
    # Per request, for 429 and 5xx, with exponential backoff (capped at a minute a wait, so
    # more than 20 would keep a run waiting on a dead endpoint for tens of minutes).
    retries: int = Field(default=5, ge=0, le=20)
    # A report whose rows collapsed is asked for again once, this many seconds later.
    row_retry_after: float = Field(default=1800.0, ge=0)
    backoff: float = Field(default=1.0, ge=0)  # seconds before the first retry

    @field_validator("endpoint", "token_url")
    @classmethod
    def _https(cls, v: str | None) -> str | None:
        # The URL is not echoed: a URL may carry a credential of its own.
        if v is not None and not credentials_url(v):
            raise ValueError("must start with https:// (the refresh token and client secret "
                             "travel to it); http:// only to 127.0.0.1 or localhost")
        return v


class Account(_Model):
    name: str
    marketplaces: tuple[str, ...] = ("US",)
    source: Literal["files", "sp-api"] = "files"
    drop_dir: Path | None = None  # default: <data_dir>/drops/<name>
    # overrides policy.threshold for this account
    threshold: float | None = Field(default=None, ge=0, le=1000)
    policy: dict[str, Any] = Field(default_factory=dict)  # overrides of [policy] keys
    sp_api: SpApi = Field(default_factory=SpApi)
    # When `ipi serve` runs the account's day (default: [run] schedule and timezone).
    schedule: str | None = None
    timezone: str | None = None  # default: [run] timezone, else the first marketplace's
    # Standing capacity limits in cubic feet by storage type, for months with none
    # recorded by `ipi capacity set` (which wins: it is the month's own figure).
    capacity: dict[str, Any] = Field(default_factory=dict)  # each checked by _limits
    # Fee overrides by marketplace, over [fees] and ipi's rates (ipi/fees/rates.toml).
    fees: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _cron = field_validator("schedule")(_check_cron)
    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("capacity")
    @classmethod
    def _limits(cls, v: dict[str, Any]) -> dict[str, float]:
        from ipi.capacity import limit_of, storage_type_of
        try:
            return {storage_type_of(k): limit_of(x) for k, x in v.items()}
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @property
    def refresh_token_env(self) -> str:
        return self.sp_api.refresh_token_env or self.env_name("REFRESH_TOKEN")

    @property
    def web_token_env(self) -> str:
        """The variable whose token opens this account alone on the dashboard."""
        return self.env_name("WEB_TOKEN")

    def env_name(self, what: str) -> str:
        """``IPI_<ACCOUNT>_<WHAT>``: the account name upper-cased, other characters as _."""
        return "IPI_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper()) + "_" + what

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not ACCOUNT_NAME.fullmatch(v):
            raise ValueError("use letters, digits, '-', '_' or '.' (it names folders)")
        return v

    @field_validator("marketplaces")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("list at least one marketplace, e.g. [\"US\"]")
        codes = tuple(m.upper() for m in v)
        for code in codes:
            # An unknown code would get no time zone (so UTC, the wrong day) and no endpoint.
            if code not in MARKETPLACE_TIMEZONES:
                raise ValueError(f"{code!r} is not a marketplace ipi knows"
                                 f"{_did_you_mean(code, MARKETPLACE_TIMEZONES)}; use one of "
                                 f"{', '.join(MARKETPLACE_TIMEZONES)}")
        return codes


class CarryDays(_Model):
    """How many days a factor is carried from its report's newest day when the day's
    report is missing; past it the factor is unknown and the estimate partial."""

    planning: int = Field(default=3, ge=0, le=30)  # excess and sell-through
    myi: int = Field(default=3, ge=0, le=30)  # in-stock
    stranded: int = Field(default=3, ge=0, le=30)  # stranded


class Policy(_Model):
    threshold: float = Field(default=450.0, ge=0, le=1000)  # Amazon's IPI runs 0-1000
    # Back to normal only at or over this (default threshold + 20): no flapping around it.
    recovery_threshold: float | None = Field(default=None, ge=0, le=1000)
    for_days: int = Field(default=1, ge=1)  # days under the threshold before it fires
    # A firing alert is paged again weekly (Amazon updates the score weekly)...
    repeat_days: int = Field(default=7, ge=1)
    # ...sooner when it got materially worse since the last page: the estimate down this
    # many points, or (repeat_band_under) its whole band now under the threshold...
    repeat_worse_points: float = Field(default=30.0, gt=0)
    repeat_band_under: bool = True
    # ...and once on each of these days before one of Amazon's checks ([]: never)...
    remind_before_check: tuple[Annotated[int, Field(ge=0, le=92)], ...] = (7, 1)
    # ...all within this many repeats per incident: a page budget whatever the calendar.
    max_repeats: int = Field(default=3, ge=0)
    notify_resolved: bool = True  # send a resolved notice when it recovers
    # A rule whose state flips (firing <-> resolved) flap_changes times in flap_window_days
    # is flapping: one notice, then no pages for it until stable for flap_stable_days.
    flap_changes: int = Field(default=3, ge=2)
    flap_window_days: int = Field(default=10, ge=2)
    flap_stable_days: int = Field(default=3, ge=1)
    # Ops alert when the newest estimate is older than this (the daily run did not happen).
    max_data_age_days: int = Field(default=2, ge=1)
    # Amazon's check dates: each quarter's last day ("quarter-end", or "none") plus these.
    checkpoint_rule: Literal["quarter-end", "none"] = "quarter-end"
    checkpoints: tuple[date, ...] = ()
    # a check's warning window opens this many days before it (0: no window)
    warning_window_days: int = Field(default=42, ge=0)
    warning_margin: float = Field(default=30.0, ge=0)  # in the window, warn under threshold + this
    projection_days: int = Field(default=28, ge=3)  # the trend behind projections
    # Estimates needed since the last level shift before a trend is fitted (and can warn).
    projection_min_days: int = Field(default=7, ge=3)
    # warn when newly stranded SKUs hold this many units
    stranded_jump_units: int = Field(default=10, ge=0)
    excess_jump_pct: float = Field(default=20.0, ge=0)  # warn when excess units rise this much...
    excess_jump_units: int = Field(default=50, ge=0)  # ...in a day, and by at least this many

    # The recovery plan keeps the units moved small ("units"), or the estimated cost
    # ("cost") from these, in the marketplace's currency: set your own.
    plan_by: Literal["units", "cost"] = "units"
    removal_fee: float = Field(default=1.04, ge=0)  # per unit removed: Amazon's US fee starts here
    listing_fix_cost: float = Field(default=5.0, ge=0)  # per stranded listing fixed: your time
    restock_cost: float = Field(default=0.0, ge=0)  # per SKU restocked, beyond the stock itself

    # A report with fewer rows than this share of the last good one is suspect (Amazon's
    # planning report sometimes comes back with a fraction of its rows). 0 turns it off.
    row_drop_threshold: float = Field(default=0.5, ge=0, le=1)
    # A day without one of the reports carries its factors from the report's newest day.
    carry_days: CarryDays = CarryDays()

    @model_validator(mode="after")
    def _recovers_over_threshold(self) -> Policy:
        if self.recovery_threshold is not None and self.recovery_threshold < self.threshold:
            raise ValueError(
                f"recovery_threshold = {self.recovery_threshold:g} is under threshold = "
                f"{self.threshold:g}: an alert would resolve while still under the threshold; "
                "set it at or over the threshold (or leave it out: threshold + 20)")
        return self

    @property
    def recovery(self) -> float:
        return self.recovery_threshold if self.recovery_threshold is not None \
            else self.threshold + 20.0


class Target(_Model):
    """One alert destination. Its URL comes from the file (no secrets) or an env variable."""

    url: str | None = None
    url_env: str | None = None
    tags: tuple[str, ...] = ("inventory", "ops")  # which alerts it gets
    accounts: tuple[str, ...] = ()  # only these accounts' alerts; empty: all
    resolved: bool = True  # whether it gets resolved notices too


class Alerts(_Model):
    # URLs without secrets may live in the file; the rest come from IPI_APPRISE_URLS.
    # Both get every alert of every account; [[alerts.targets]] route by kind and account.
    urls: tuple[str, ...] = ()
    apprise_config: Path | None = None
    targets: tuple[Target, ...] = ()
    # SKUs named in an alert, those whose fix lifts the estimate most
    top_skus: int = Field(default=5, ge=1)
    # A failed delivery waits this long before its next try, doubling each time (6 h at most).
    retry_backoff_minutes: float = Field(default=1.0, ge=0)
    # Where people look at an account (e.g. the dashboard's address): messages and webhook
    # bodies link to <ui_url>/accounts/<account>.
    ui_url: str | None = None


class Backfill(_Model):
    # Days per ledger request: Amazon accepts long ranges but large ones are slow and fail
    # as a whole; 30 keeps each retry cheap.
    window_days: int = Field(default=30, ge=1, le=365)
    # Amazon keeps the inventory ledger about 18 months; older days come from archives.
    ledger_history_days: int = Field(default=540, ge=1)
    # Ledger requests in flight per account. createReport allows a burst of 15 then one a
    # minute: more gains little, and every call is paced anyway.
    concurrency: int = Field(default=4, ge=1, le=15)


class Web(_Model):
    # The dashboard (`ipi web`, and beside `ipi serve`). Only this machine by default; any
    # other address needs IPI_WEB_TOKEN, checked on every request.
    host: str = "127.0.0.1"
    port: int = Field(default=8450, ge=0, le=65535)  # 0: any free port (said at start)


class Capacity(_Model):
    # Warn when a storage type's use, now or projected to the month's end, reaches this
    # share of its capacity limit.
    warn_share: float = Field(default=0.9, gt=0, le=1)


MAX_PARALLEL_ACCOUNTS = 32  # threads of one daily run's process
MAX_PROCESSES = 64


class Settings(_Model):
    data_dir: Path = Path("data")
    database: Path | None = None  # default: <data_dir>/ipi.duckdb
    # seconds to wait for another process holding the database
    busy_timeout: float = Field(default=60.0, gt=0)
    # Seconds a run waits for another run of the same account to finish, then stops.
    run_lock_wait: float = Field(default=60.0, ge=0)
    # Accounts each of a daily run's processes works on at once (each waits for Amazon on
    # its own).
    parallel_accounts: int = Field(default=4, ge=1, le=MAX_PARALLEL_ACCOUNTS)
    # Processes a daily run shares its accounts among (each account's file is its own, so
    # they never wait for each other's writes). Default: one per parallel_accounts
    # accounts, at most one per core.
    processes: int | None = Field(default=None, ge=1, le=MAX_PROCESSES)
    schedule: str = DEFAULT_SCHEDULE  # cron line, in each account's time zone
    timezone: str | None = None
    # `ipi serve`'s own Prefect server listens on 127.0.0.1 at this port.
    server_port: int = Field(default=4200, ge=1, le=65535)
    policy: Policy = Field(default_factory=Policy)
    alerts: Alerts = Field(default_factory=Alerts)
    backfill: Backfill = Field(default_factory=Backfill)
    web: Web = Field(default_factory=Web)
    capacity: Capacity = Field(default_factory=Capacity)
    # Fee overrides by marketplace, e.g. [fees.US.utilization] threshold_weeks = 24.
    fees: dict[str, dict[str, Any]] = Field(default_factory=dict)
    accounts: tuple[Account, ...] = ()
    env_apprise_urls: SecretStr | None = None
    config_path: Path | None = None

    @property
    def database_path(self) -> Path:
        """The installation's own file (its default model; ipi.store.accounts)."""
        return self.database or self.data_dir / "ipi.duckdb"

    @property
    def accounts_dir(self) -> Path:
        """Where each account's file lives, beside the installation's."""
        return self.database_path.parent / "accounts"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    def drop_dir(self, account: Account) -> Path:
        return account.drop_dir or self.data_dir / "drops" / account.name

    def schedule_of(self, account: Account) -> tuple[str, str]:
        """When ``ipi serve`` runs the account: (cron line, IANA time zone)."""
        tz = (account.timezone or self.timezone
              or MARKETPLACE_TIMEZONES.get(account.marketplaces[0], "UTC"))
        return account.schedule or self.schedule, tz

    def today(self, account: Account) -> date:
        """The account's date now, in its own time zone: the day its run is for."""
        return datetime.now(zoneinfo.ZoneInfo(self.schedule_of(account)[1])).date()

    _cron = field_validator("schedule")(_check_cron)
    _tz = field_validator("timezone")(_check_timezone)

    def threshold(self, account: Account) -> float:
        return self.policy_for(account).threshold

    def policy_for(self, account: Account) -> Policy:
        """[policy] with the account's own overrides applied (checked when loaded)."""
        return effective_policy(self.policy, account)

    def account(self, name: str | None) -> Account:
        """The named account, or the only one when no name is given."""
        if not self.accounts:
            raise ConfigError(f"no [[accounts]] in {self.config_path or 'the configuration'}")
        if name is None:
            if len(self.accounts) == 1:
                return self.accounts[0]
            names = ", ".join(a.name for a in self.accounts)
            raise ConfigError(f"several accounts are configured ({names}): pass --account NAME")
        for a in self.accounts:
            if a.name == name:
                return a
        names = ", ".join(a.name for a in self.accounts)
        raise ConfigError(f"no account named {name!r} in the configuration (known: {names})")

    def fee_overrides(self, account: Account, marketplace: str) -> dict[str, Any]:
        """[fees.<marketplace>] with the account's own [accounts.fees.<marketplace>] on top."""
        def merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(base)
            for k, v in over.items():
                out[k] = (merged(out[k], v) if isinstance(v, Mapping)
                          and isinstance(out.get(k), dict) else v)
            return out
        return merged(self.fees.get(marketplace, {}), account.fees.get(marketplace, {}))

    def apprise_urls(self) -> list[str]:
        urls = list(self.alerts.urls)
        if self.env_apprise_urls is not None:
            urls += [u for u in re.split(r"[\s,]+", self.env_apprise_urls.get_secret_value()) if u]
        return urls


def effective_policy(policy: Policy, account: Account) -> Policy:
    """``policy`` with the account's overrides ([accounts.policy], then its ``threshold``)."""
    extra = dict(account.policy)
    if account.threshold is not None:
        extra.setdefault("threshold", account.threshold)
    if not extra:
        return policy
    return Policy(**{**policy.model_dump(exclude_unset=True), **extra})


# The file's [store] and [run] tables are flat fields of Settings.
STORE_KEYS = ("data_dir", "database", "busy_timeout", "run_lock_wait")
RUN_KEYS = ("parallel_accounts", "processes", "schedule", "timezone", "server_port")
SECTIONS = ("store", "run", "policy", "alerts", "backfill", "web", "capacity", "fees",
            "accounts")
_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "store": STORE_KEYS, "run": RUN_KEYS, "policy": tuple(Policy.model_fields),
    "alerts": tuple(Alerts.model_fields), "backfill": tuple(Backfill.model_fields),
    "web": tuple(Web.model_fields), "capacity": tuple(Capacity.model_fields)}
_SECTION_OF_FIELD = {k: s for s in ("store", "run") for k in _SECTION_KEYS[s]}
# Values of such keys are never echoed in an error: they might carry a token.
_SECRETISH = re.compile(r"url|token|secret|password", re.I)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Keys that were renamed, with what replaces them.
_RENAMED = {
    "repeat_daily_before_check": "remind_before_check = [7, 1] (the days before a check a "
                                 "firing alert is repeated once, within max_repeats)",
}


def _unknown_key(where: str, key: str, valid: Iterable[str]) -> str:
    if key in _RENAMED:
        return f"{where}: {key} is gone: use {_RENAMED[key]}"
    valid = list(valid)
    hint = _did_you_mean(key, valid) or f" (valid keys: {', '.join(valid)})"
    return f"{where}: unknown key {key!r}{hint}"


def _toml(value: Any) -> str:
    """A value as it would be written in the file, kept short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_toml(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, str):
        text = json.dumps(value)
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed(field: FieldInfo | None) -> str:
    """The values a numeric field takes, in words: "a whole number of at least 1"."""
    if field is None:
        return ""
    kind = "a whole number" if int in (field.annotation, *get_args(field.annotation)) \
        else "a number"
    words = {"ge": "of at least", "gt": "over", "le": "of at most", "lt": "under"}
    bounds = {a: getattr(m, a) for m in field.metadata for a in words if hasattr(m, a)}
    if "ge" in bounds and "le" in bounds:
        return f"{kind} from {bounds['ge']:g} to {bounds['le']:g}"
    return " ".join([kind, *(f"{words[b]} {v:g}" for b, v in bounds.items())])


_REASONS = {  # pydantic's error types, in the words of a TOML file
    "bool_type": "is not true or false", "bool_parsing": "is not true or false",
    "string_type": "is not text: put it in quotes",
    "path_type": "is not a path: put it in quotes",
    "tuple_type": "is not a list: write [...]", "list_type": "is not a list: write [...]",
    "model_type": "is not a table", "dict_type": "is not a table", "missing": "is required",
}
_NUMBER_TYPES = {"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"}
_RANGE_TYPES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _explain(err: Mapping[str, Any], where: str, model: type[BaseModel],
             path: list[int | str]) -> str:
    """One pydantic error as "<section>: <key> = <value> <what is wrong>: <what to write>"."""
    kind = err["type"]
    key = path[0] if path and isinstance(path[0], str) else None
    if kind == "extra_forbidden" and key is not None:
        return _unknown_key(where, key, model.model_fields)
    ctx = err.get("ctx", {})
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        own = str(ctx["error"])  # our validators' own words: they follow the value
        if key is None:  # a check across the table's keys
            return f"{where}: {own}"
        return f"{where}: {key} = {_toml(err['input'])}: {own}"
    field = model.model_fields.get(key) if key is not None else None
    if kind in _NUMBER_TYPES | _RANGE_TYPES:
        reason = ("is out of range" if kind in _RANGE_TYPES
                  else "is not a whole number" if kind.startswith("int") else "is not a number")
        reason += f": use {_allowed(field)}"
    elif kind == "literal_error":
        reason = f"must be {ctx.get('expected')}"
    elif kind.startswith("date"):
        reason = "is not a date: write YYYY-MM-DD"
    else:
        reason = _REASONS.get(kind, err["msg"])
    if key is None:
        return f"{where} {reason}"  # "[alerts] is not a table"
    name = key + "".join(f"[{p}]" for p in path[1:])
    shown = "" if kind == "missing" or _SECRETISH.search(key) else f" = {_toml(err['input'])}"
    return f"{where}: {name}{shown} {reason}"


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (``Target`` for ``tuple[Target, ...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _account_label(raw_accounts: list[Any], i: int) -> str:
    name = raw_accounts[i].get("name") if i < len(raw_accounts) else None
    ok = isinstance(name, str) and ACCOUNT_NAME.fullmatch(name)
    return f'"{name}"' if ok else f"#{i + 1}"


def _locate(loc: tuple[int | str, ...], raw_accounts: list[Any]
            ) -> tuple[str, type[BaseModel], list[int | str]]:
    """Where an error of ``Settings`` is in the file: the table's name, its model, and the
    key path inside it. Nested models are tables; a list of them, an array of tables."""
    path = list(loc)
    if path and path[0] in _SECTION_OF_FIELD:
        return f"[{_SECTION_OF_FIELD[str(path[0])]}]", Settings, path
    model: type[BaseModel] = Settings
    tables: list[str] = []
    where, owner = "the top level", ""
    while path and isinstance(path[0], str):
        field = model.model_fields.get(path[0])
        sub = _submodel(field.annotation) if field is not None else None
        if sub is None:
            break
        tables.append(str(path.pop(0)))
        model = sub
        name = ".".join(tables)
        if path and isinstance(path[0], int):  # one table of an array of tables
            i = path.pop(0)
            label = (_account_label(raw_accounts, i) if name == "accounts" else f"#{i + 1}")
            where = f"[[{name}]] {label}"
            owner = f"account {label}" if name == "accounts" else where
        else:
            where = f"[{name}]" + (f" of {owner}" if owner else "")
    return where, model, path


def _check_shape(raw: dict[str, Any]) -> list[str]:
    """Problems the models cannot see: unknown sections, and keys of [store] and [run]."""
    problems = []
    for key in (k for k in raw if k not in SECTIONS):
        home = next((s for s, keys in _SECTION_KEYS.items() if key in keys), None)
        close = difflib.get_close_matches(key, SECTIONS, n=1)
        problems.append(
            f"the top level: unknown key {key!r} (it belongs under [{home}])" if home
            else f"the top level: unknown section [{key}] "
            + (f"(did you mean [{close[0]}]?)" if close
               else f"(valid sections: {', '.join(SECTIONS)})"))
    for section in ("store", "run"):
        table = raw.get(section, {})
        if not isinstance(table, dict):
            problems.append(f"[{section}] is not a table")
            continue
        keys = _SECTION_KEYS[section]
        problems += [_unknown_key(f"[{section}]", k, keys) for k in table if k not in keys]
    accounts = raw.get("accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        problems.append("[accounts] is not an array of tables: write each account under "
                        "its own [[accounts]]")
    return problems


def _resolve(base: Path, value: Any) -> Any:
    if not isinstance(value, str | Path):
        return value  # None, or a wrong type that validation names
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def settings_from_dict(
    raw: dict[str, Any], *, base_dir: Path, env: dict[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Build Settings from parsed TOML; relative paths are relative to ``base_dir``.

    The whole configuration is checked here, per-account policies included, so every
    command refuses a bad one before doing anything; each problem is named by ``path``,
    section and key, with the fix, in one line of a ConfigError.
    """
    env = dict(os.environ) if env is None else env

    def error(problems: list[str]) -> ConfigError:
        return ConfigError((f"{path}: " if path else "") + "; ".join(problems))

    problems = _check_shape(raw)
    if problems:
        raise error(problems)
    raw = dict(raw)
    store, run = raw.pop("store", {}), raw.pop("run", {})
    data: dict[str, Any] = {**store, **run,
                            "data_dir": _resolve(base_dir, store.get("data_dir", "data")),
                            "database": _resolve(base_dir, store.get("database"))}
    data.update({s: raw[s] for s in ("policy", "backfill", "web", "capacity", "fees")
                 if s in raw})
    if "alerts" in raw:
        alerts = dict(raw["alerts"]) if isinstance(raw["alerts"], dict) else raw["alerts"]
        if isinstance(alerts, dict) and "apprise_config" in alerts:
            alerts["apprise_config"] = _resolve(base_dir, alerts["apprise_config"])
        data["alerts"] = alerts
    accounts = [dict(a) for a in raw.get("accounts", [])]
    for acc in accounts:
        if "drop_dir" in acc:
            acc["drop_dir"] = _resolve(base_dir, acc["drop_dir"])
    data["accounts"] = accounts
    if env.get(APPRISE_URLS_ENV):
        data["env_apprise_urls"] = SecretStr(env[APPRISE_URLS_ENV])
    data["config_path"] = path
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise error([_explain(e, *_locate(e["loc"], accounts)) for e in exc.errors()]) from None
    problems = []
    for i, account in enumerate(settings.accounts):
        try:
            effective_policy(settings.policy, account)
        except ValidationError as exc:
            label = _account_label(accounts, i)
            where = (f"[accounts.policy] of account {label}" if account.policy
                     else f"[[accounts]] {label}")
            problems += [_explain(e, where, Policy, list(e["loc"])) for e in exc.errors()]
    problems += _fee_problems(settings, accounts)
    names = [a.name for a in settings.accounts]
    problems += [f"[[accounts]]: the name {n!r} is used twice; account names must be unique"
                 for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise error(problems)
    return settings


def _fee_problems(settings: Settings, raw_accounts: list[Any]) -> list[str]:
    """Fee overrides checked against ipi's rates, as each account will use them: a typo
    would otherwise charge the default silently."""
    from ipi.fees import load_rates, marketplaces

    known = marketplaces()
    problems = [f"[fees]: no rates for marketplace {mp!r} to override (ipi has "
                f"{', '.join(known)})" for mp in settings.fees if mp.upper() not in known]
    for i, account in enumerate(settings.accounts):
        for mp in sorted({*settings.fees, *account.fees}):
            if mp.upper() not in known:
                if mp in account.fees:
                    problems.append(f"[accounts.fees] of account {_account_label(raw_accounts, i)}"
                                    f": no rates for marketplace {mp!r} (ipi has "
                                    f"{', '.join(known)})")
                continue
            try:
                load_rates(mp, settings.fee_overrides(account, mp))
            except ConfigError as exc:
                problems.append(f"account {_account_label(raw_accounts, i)}: {exc}")
    return problems


def read_config(path: Path | str | None = None, *, env: dict[str, str] | None = None
                ) -> tuple[Path, dict[str, Any]]:
    """The configuration file named by ``path`` or ``$IPI_CONFIG``, parsed: (path, tables)."""
    env = dict(os.environ) if env is None else env
    if path is None:
        path = env.get(CONFIG_ENV)
    if not path:
        raise ConfigError(
            f"no configuration: name the file (--config FILE, or {CONFIG_ENV}), or work in "
            "the folder of an ipi.toml (`ipi init` writes one; config/ipi.example.toml "
            "shows every setting)"
        )
    path = Path(path).expanduser().resolve()
    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def load_settings(path: Path | str | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Read and check the TOML file named by ``path`` or ``$IPI_CONFIG``."""
    path, raw = read_config(path, env=env)
    return settings_from_dict(raw, base_dir=path.parent, env=env, path=path)
