"""One typed Settings object, read once per run from a TOML file and the environment.

The file holds no secrets. Alert URLs that carry tokens or passwords come from
the environment (``IPI_APPRISE_URLS``) and are kept as ``SecretStr`` so they are
never printed.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ipi.errors import ConfigError

CONFIG_ENV = "IPI_CONFIG"
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
    endpoint: str | None = None  # default: the marketplace's regional SP-API endpoint
    token_url: str = "https://api.amazon.com/auth/o2/token"
    report_types: tuple[str, ...] = (
        "GET_FBA_INVENTORY_PLANNING_DATA",
        "GET_STRANDED_INVENTORY_UI_DATA",
        "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
    )
    poll_deadline: float = 3600.0  # seconds to wait for Amazon to generate the reports
    # First wait between status checks; then a quarter of the time so far, up to 2 minutes.
    poll_interval: float = 15.0
    retries: int = 5  # per request, for 429 and 5xx, with exponential backoff
    # A report whose rows collapsed is asked for again once, this many seconds later.
    row_retry_after: float = 1800.0
    backoff: float = 1.0  # seconds before the first retry


class Account(_Model):
    name: str
    marketplaces: tuple[str, ...] = ("US",)
    source: Literal["files", "sp-api"] = "files"
    drop_dir: Path | None = None  # default: <data_dir>/drops/<name>
    threshold: float | None = None  # overrides policy.threshold for this account
    policy: dict[str, Any] = Field(default_factory=dict)  # overrides of [policy] keys
    sp_api: SpApi = Field(default_factory=SpApi)
    # When `ipi serve` runs the account's day (default: [run] schedule and timezone).
    schedule: str | None = None
    timezone: str | None = None  # default: [run] timezone, else the first marketplace's

    _cron = field_validator("schedule")(_check_cron)
    _tz = field_validator("timezone")(_check_timezone)

    @property
    def refresh_token_env(self) -> str:
        default = "IPI_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper()) + "_REFRESH_TOKEN"
        return self.sp_api.refresh_token_env or default

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError("use letters, digits, '-', '_' or '.' (it names folders)")
        return v

    @field_validator("marketplaces")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("list at least one marketplace, e.g. [\"US\"]")
        return tuple(m.upper() for m in v)


class Policy(_Model):
    threshold: float = 450.0
    # Back to normal only at or over this (default threshold + 20): no flapping around it.
    recovery_threshold: float | None = None
    for_days: int = Field(default=1, ge=1)  # days under the threshold before it fires
    # A firing alert is paged again weekly (Amazon updates the score weekly)...
    repeat_days: int = Field(default=7, ge=1)
    # ...sooner when it got materially worse since the last page: the estimate down this
    # many points, or (repeat_band_under) its whole band now under the threshold...
    repeat_worse_points: float = Field(default=30.0, gt=0)
    repeat_band_under: bool = True
    # ...and daily in the last this-many days before one of Amazon's checks (0: never).
    repeat_daily_before_check: int = Field(default=7, ge=0)
    notify_resolved: bool = True  # send a resolved notice when it recovers
    # A rule whose state flips (firing <-> resolved) flap_changes times in flap_window_days
    # is flapping: one notice, then no pages for it until stable for flap_stable_days.
    flap_changes: int = Field(default=3, ge=2)
    flap_window_days: int = Field(default=10, ge=2)
    flap_stable_days: int = Field(default=3, ge=1)
    # Ops alert when the newest estimate is older than this (the daily run did not happen).
    max_data_age_days: int = 2
    # Amazon's check dates: each quarter's last day ("quarter-end", or "none") plus these.
    checkpoint_rule: Literal["quarter-end", "none"] = "quarter-end"
    checkpoints: tuple[date, ...] = ()
    warning_window_days: int = 42  # a check's warning window opens this many days before it
    warning_margin: float = 30.0  # in the window, warn under threshold + this
    projection_days: int = Field(default=28, ge=3)  # the trend behind projections
    # Estimates needed since the last level shift before a trend is fitted (and can warn).
    projection_min_days: int = Field(default=7, ge=3)
    stranded_jump_units: int = 10  # warn when newly stranded SKUs hold this many units
    excess_jump_pct: float = 20.0  # warn when excess units rise this much in a day...
    excess_jump_units: int = 50  # ...and by at least this many units

    # The recovery plan keeps the units moved small ("units"), or the estimated cost
    # ("cost") from these, in the marketplace's currency: set your own.
    plan_by: Literal["units", "cost"] = "units"
    removal_fee: float = Field(default=1.04, ge=0)  # per unit removed: Amazon's US fee starts here
    listing_fix_cost: float = Field(default=5.0, ge=0)  # per stranded listing fixed: your time
    restock_cost: float = Field(default=0.0, ge=0)  # per SKU restocked, beyond the stock itself

    # A report with fewer rows than this share of the last good one is suspect (Amazon's
    # planning report sometimes comes back with a fraction of its rows). 0 turns it off.
    row_drop_threshold: float = 0.5

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
    top_skus: int = 5  # SKUs named in an alert, those whose fix lifts the estimate most
    # A failed delivery waits this long before its next try, doubling each time (6 h at most).
    retry_backoff_minutes: float = 1.0
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


MAX_PARALLEL_ACCOUNTS = 32  # threads of one daily run


class Settings(_Model):
    data_dir: Path = Path("data")
    database: Path | None = None  # default: <data_dir>/ipi.duckdb
    busy_timeout: float = 60.0  # seconds to wait for another process holding the database
    # Seconds a run waits for another run of the same account to finish, then stops.
    run_lock_wait: float = 60.0
    # Accounts a daily run works on at once (each waits for Amazon on its own).
    parallel_accounts: int = Field(default=4, ge=1, le=MAX_PARALLEL_ACCOUNTS)
    schedule: str = DEFAULT_SCHEDULE  # cron line, in each account's time zone
    timezone: str | None = None
    # `ipi serve`'s own Prefect server listens on 127.0.0.1 at this port.
    server_port: int = Field(default=4200, ge=1, le=65535)
    policy: Policy = Field(default_factory=Policy)
    alerts: Alerts = Field(default_factory=Alerts)
    backfill: Backfill = Field(default_factory=Backfill)
    accounts: tuple[Account, ...] = ()
    env_apprise_urls: SecretStr | None = None
    config_path: Path | None = None

    @property
    def database_path(self) -> Path:
        return self.database or self.data_dir / "ipi.duckdb"

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
        """[policy] with the account's own overrides applied."""
        extra = dict(account.policy)
        if account.threshold is not None:
            extra.setdefault("threshold", account.threshold)
        if not extra:
            return self.policy
        try:
            return Policy(**{**self.policy.model_dump(exclude_unset=True), **extra})
        except ValidationError as exc:
            raise ConfigError(f"account {account.name}: invalid [accounts.policy]: "
                              f"{exc.errors()[0]['msg']}") from None

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

    def apprise_urls(self) -> list[str]:
        urls = list(self.alerts.urls)
        if self.env_apprise_urls is not None:
            urls += [u for u in re.split(r"[\s,]+", self.env_apprise_urls.get_secret_value()) if u]
        return urls


_RUN_KEYS = ("parallel_accounts", "schedule", "timezone", "server_port")


def _resolve(base: Path, value: Any) -> Any:
    if value is None:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def settings_from_dict(
    raw: dict[str, Any], *, base_dir: Path, env: dict[str, str] | None = None
) -> Settings:
    """Build Settings from parsed TOML; relative paths are relative to ``base_dir``."""
    env = dict(os.environ) if env is None else env
    raw = dict(raw)
    store = raw.pop("store", {})
    data: dict[str, Any] = {
        "data_dir": _resolve(base_dir, store.get("data_dir", "data")),
        "database": _resolve(base_dir, store.get("database")),
    }
    run = raw.pop("run", {})
    for section, keys in ((store, ("busy_timeout", "run_lock_wait")),
                          (run, _RUN_KEYS)):
        data.update({k: section[k] for k in keys if k in section})
    unknown = set(store) - {"data_dir", "database", "busy_timeout", "run_lock_wait"}
    if unknown:
        raise ConfigError(f"unknown key(s) in [store]: {', '.join(sorted(unknown))}")
    unknown = set(run) - set(_RUN_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) in [run]: {', '.join(sorted(unknown))}")
    for section in ("policy", "backfill"):
        if section in raw:
            data[section] = raw.pop(section)
    if "alerts" in raw:
        alerts = dict(raw.pop("alerts"))
        if "apprise_config" in alerts:
            alerts["apprise_config"] = _resolve(base_dir, alerts["apprise_config"])
        data["alerts"] = alerts
    accounts = []
    for acc in raw.pop("accounts", []):
        acc = dict(acc)
        if "drop_dir" in acc:
            acc["drop_dir"] = _resolve(base_dir, acc["drop_dir"])
        accounts.append(acc)
    data["accounts"] = accounts
    if raw:
        raise ConfigError(f"unknown section(s) in the configuration: {', '.join(sorted(raw))}")
    if env.get(APPRISE_URLS_ENV):
        data["env_apprise_urls"] = SecretStr(env[APPRISE_URLS_ENV])
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    names = [a.name for a in settings.accounts]
    if len(set(names)) != len(names):
        raise ConfigError("account names must be unique in [[accounts]]")
    return settings


def load_settings(path: Path | str | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Read the TOML file named by ``path`` or ``$IPI_CONFIG``."""
    env = dict(os.environ) if env is None else env
    if path is None:
        path = env.get(CONFIG_ENV)
    if not path:
        raise ConfigError(
            f"no configuration: pass --config FILE or set {CONFIG_ENV} "
            "(start from config/ipi.example.toml)"
        )
    path = Path(path).expanduser().resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    settings = settings_from_dict(raw, base_dir=path.parent, env=env)
    return settings.model_copy(update={"config_path": path})
