"""A file per account: each seller's data in its own DuckDB file, read together when needed.

``<data_dir>/accounts/<name>.duckdb`` holds everything of one account: its reports, raw
file records, estimates, alerts, official scores and fee forecasts, and a copy of the
installation's default model (``score_prior``, ``reference_row``); the bytes of the files
it loads land in ``<data_dir>/raw/<name>/``. The installation's own
file, ``<data_dir>/ipi.duckdb`` (``[store] database``), keeps what is everyone's: the
reference rows imported and the default model fitted on them.

Why: DuckDB lets one process write a file at a time. With one file for every account, a
fleet's run took turns on it (bench/fleet.py: the writer turn held 76 of the 100 s run)
and could use one core. With a file each, accounts load and score in parallel threads
and processes, on one machine or several; a client's data is never in another's file,
and offboarding a client is removing theirs. Reading across accounts (the dashboard's
index, ``ipi score`` without an account) attaches the files read-only (``Fleet``); an
account being written at that moment is said to be updating, the others read.

``split`` moves a store made before the file per account (one file) into this layout,
in place, once: each account's file is written complete under ``accounts.split/``, then the
account rows leave the installation's file in one transaction, then the folder takes its
name. A crash at any point leaves either the old store whole or the new one.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ipi.errors import StoreBusy, StoreUnavailable
from ipi.store import Store, _is_lock_error, rows
from ipi.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from ipi.settings import Settings

log = logging.getLogger(__name__)

# The installation's tables: the same in every file (copied into each account's, which
# scores with them), the master copy in the installation's file.
HOUSE_TABLES = ("reference_row", "score_prior")
# The account of an ops message about a whole run (ipi.alerts.deliver.ALL_ACCOUNTS, not
# imported: it brings apprise): no account's, so the installation's file keeps it.
WHOLE_RUN = "*"
# Rows of an account without an account column: reached through the rows that have one.
BY_KEY = {
    "alert_delivery": "key IN (SELECT key FROM alert_outbox WHERE account = $account)",
    "raw_file": ("sha256 IN (SELECT sha256 FROM ingested_file WHERE account = $account "
                 "UNION SELECT sha256 FROM amazon_forecast WHERE account = $account "
                 "UNION SELECT sha256 FROM amazon_forecast_fetch WHERE account = $account)"),
}


# The installation's file, one thread at a time. The accounts of a run open their stores
# at once, in threads: one splits an old store while the others wait; and while one copies
# the default model into its new file (the installation's attached to its connection),
# DuckDB refuses the process any other opening of that file ("Unique file handle
# conflict").
_HOUSE = threading.RLock()


def account_path(settings: Settings, name: str) -> Path:
    return settings.accounts_dir / f"{name}.duckdb"


def account_store(settings: Settings, name: str) -> Store:
    """The store of account ``name``: its own file (made, with the installation's default
    model, on first use; an old single-file store is split first); ``WHOLE_RUN``'s is the
    installation's."""
    if name == WHOLE_RUN:
        return Store.for_settings(settings)
    ensure_split(settings)
    path = account_path(settings, name)
    store = Store(path, data_dir=settings.data_dir, busy_timeout=settings.busy_timeout,
                  raw_dir=settings.raw_dir / name)
    if not path.exists():
        _seed(settings, store)
    return store


def _seed(settings: Settings, store: Store) -> None:
    """A new account file: migrated, with the installation's default model copied in."""
    if settings.database_path.exists():
        share_house(settings, store)
    else:
        store.migrate()


def share_house(settings: Settings, store: Store) -> None:
    """Copy the installation's tables (its default model) into an account's file, in
    place of those it had: on its first use, and after ``ipi official import-reference``.
    The installation's file is attached read-only (``prepare`` migrated it), waiting while
    another process has it open to write; one thread of the process at a time (DuckDB
    refuses the same file attached twice at once)."""
    with _HOUSE, store.read() as con:
        # Outside a transaction: a failed attempt would abort it.
        _attach_waiting(con, settings.database_path, "house", settings.busy_timeout)
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in HOUSE_TABLES:
                    con.execute(f"DELETE FROM {table}")
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM house.{table}")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.execute("DETACH house")


def _attach_waiting(con: duckdb.DuckDBPyConnection, path: Path, alias: str,
                    wait: float) -> None:
    """Attach ``path`` read-only, waiting up to ``wait`` seconds while a writer holds it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            con.execute(f"ATTACH '{_quoted(path)}' AS {alias} (READ_ONLY)")
            return
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise StoreBusy(f"the database {path} is held by another process (probably "
                                f"a running ipi command); waited {wait:.0f}s. Retry when it "
                                "has finished.") from None
            time.sleep(0.1)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def account_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables that hold an account's rows (an ``account`` column)."""
    return [t for (t,) in con.execute(
        "SELECT DISTINCT table_name FROM duckdb_columns() WHERE column_name = 'account' "
        "AND database_name = current_database() AND schema_name = 'main' "
        "ORDER BY table_name").fetchall()]


def ensure_split(settings: Settings) -> list[str]:
    """Split the installation's single file into a file per account if it is still one;
    the accounts moved (none when done before, or new)."""
    if settings.accounts_dir.is_dir():
        return []
    with _HOUSE:
        try:
            return split(settings)
        except duckdb.Error as exc:  # a full disk mid-copy (the OS's own errors say theirs)
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreUnavailable(
                f"could not move the accounts of {settings.database_path} into a file each "
                f"under {settings.accounts_dir} ({why}); nothing is lost, and the next "
                "command starts it again (a full disk: free space in [store] data_dir "
                "first)") from None


def split(settings: Settings) -> list[str]:
    """Move every account's rows out of the installation's file into its own (module
    note): the accounts moved."""
    target = settings.accounts_dir
    partial = target.with_name(target.name + ".split")
    house_path = settings.database_path
    if not house_path.exists():
        target.mkdir(parents=True, exist_ok=True)
        return []
    house = Store(house_path, data_dir=settings.data_dir, busy_timeout=settings.busy_timeout)
    with house.session():  # migrated (the split copies today's tables), held throughout
        if target.is_dir():  # split by another while this one waited for the file
            return []
        with house.read() as con:
            tables = account_tables(con)
            names = sorted({n for t in tables for (n,) in con.execute(
                f"SELECT DISTINCT account FROM {t}").fetchall()} - {WHOLE_RUN})
        if not names and partial.is_dir():
            # The rows left in a run that stopped after they did: the files are complete.
            partial.rename(target)
            return sorted(p.stem for p in target.glob("*.duckdb"))
        shutil.rmtree(partial, ignore_errors=True)  # a split that stopped before: again
        partial.mkdir(parents=True)
        if names:
            log.warning("moving %d account(s) into a file each under %s (once, after an "
                        "upgrade): %s", len(names), target, ", ".join(names))
        # A transaction each: DuckDB's may write one database only (the account's file, then
        # the installation's).
        with house.read() as con:
            for i, name in enumerate(names, 1):
                _copy_out(con, partial / f"{name}.duckdb", name, tables)
                log.info("%s moved (%d of %d)", name, i, len(names))
        with house.write() as con:
            for name in names:  # first: the rows they are reached through go next
                for t, where in BY_KEY.items():
                    con.execute(f"DELETE FROM {t} WHERE {where}", {"account": name})
            for t in tables:  # a whole run's ops messages stay (WHOLE_RUN)
                con.execute(f"DELETE FROM {t} WHERE account <> $whole", {"whole": WHOLE_RUN})
        with house.read() as con:  # the space the rows took, back
            con.execute("CHECKPOINT")
    partial.rename(target)
    return names


def _copy_out(con: duckdb.DuckDBPyConnection, path: Path, name: str,
              tables: Sequence[str]) -> None:
    """Write account ``name``'s file at ``path`` from the open installation file ``con``."""
    fresh = Store(path)  # migrated on open, closed before the copy attaches it
    with fresh.read():
        pass
    con.execute(f"ATTACH '{_quoted(path)}' AS acct")
    try:
        con.execute("BEGIN TRANSACTION")
        # By name: a column added by a migration sits last in an old file, in place in a new.
        for t in tables:
            con.execute(f"INSERT INTO acct.{t} BY NAME SELECT * FROM {t} WHERE account = $account",
                        {"account": name})
        for t, where in BY_KEY.items():
            con.execute(f"INSERT INTO acct.{t} BY NAME SELECT * FROM {t} WHERE {where}",
                        {"account": name})
        for t in HOUSE_TABLES:
            con.execute(f"INSERT INTO acct.{t} BY NAME SELECT * FROM {t}")
        # Silences keep their ids: the new file's sequence starts after them.
        con.execute("SELECT nextval('acct.alert_silence_id') FROM range("
                    "(SELECT coalesce(max(id), 0) FROM acct.alert_silence))")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH acct")


class Fleet:
    """Accounts' files read as one database (``names``: these, default every configured
    account): each attached read-only, each table a view over all of them, so that a
    query across accounts reads as it would on one file. An account whose file another
    connection is writing right now is left out and named in ``updating``; one without a
    file yet has no rows."""

    def __init__(self, settings: Settings, names: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.names = list(names) if names is not None else [a.name for a in settings.accounts]
        self.updating: list[str] = []

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        ensure_split(self.settings)
        with closing(duckdb.connect()) as con:
            con.execute("SET enable_progress_bar = false")
            self.updating = []
            attached = [alias for i, name in enumerate(self.names)
                        if (alias := self._attach(con, f"a{i}", name))]
            if not attached:  # nothing to read: today's tables, empty
                for _, sql in MIGRATIONS:
                    con.execute(sql)
            else:
                tables = [t for (t,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = $db "
                    "ORDER BY table_name", {"db": attached[0]}).fetchall()]
                # The default model is copied into every file: read once, not N times.
                con.execute("".join(
                    f"CREATE TEMP VIEW {t} AS "
                    + " UNION ALL ".join(f"SELECT * FROM {a}.{t}" for a in (
                        attached[:1] if t in HOUSE_TABLES else attached)) + ";"
                    for t in tables))
            yield con

    def _attach(self, con: duckdb.DuckDBPyConnection, alias: str, name: str) -> str | None:
        path = account_path(self.settings, name)
        if not path.exists():
            return None
        try:
            con.execute(f"ATTACH '{_quoted(path)}' AS {alias} (READ_ONLY)")
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            self.updating.append(name)
            return None
        done = con.execute(f"SELECT count(*) FROM {alias}.ipi_migration").fetchone()
        if done and done[0] < len(MIGRATIONS):  # an older file: migrated by a writer first
            con.execute(f"DETACH {alias}")
            try:
                account_store(self.settings, name).migrate()
            except StoreBusy:
                self.updating.append(name)
                return None
            con.execute(f"ATTACH '{_quoted(path)}' AS {alias} (READ_ONLY)")
        return alias

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A read across the accounts, as rows."""
        with self.read() as con:
            return rows(con, sql, params)


def prepare(settings: Settings) -> list[str]:
    """Before a run: the installation's file migrated (an unusable data folder says so
    here, before Prefect starts), an old single-file store split; the accounts moved."""
    Store.for_settings(settings).migrate()
    return ensure_split(settings)
