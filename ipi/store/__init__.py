"""The DuckDB store: one door, DuckDB's own connection.

Every reader and writer gets a ``duckdb.DuckDBPyConnection``: ``read()`` for a read,
``write()`` for one transaction (committed on success, else rolled back). SQL is
written once, for DuckDB, with named parameters (``$day``, a dict): a name can be
used twice in one statement, and a reader sees what it means.

DuckDB lets one process hold the file at a time, even for reading. Connections
are therefore short (no pool): open, do one unit of work, close. A process that
finds the file held waits up to ``busy_timeout`` seconds, then says which
process holds it. ``session()`` keeps one connection for many transactions
(opening DuckDB costs ~60 ms): a daily run's thousands of small reads and writes;
inside it ``read()`` and ``write()`` yield that connection, still the same type.

Why each layer:

- DuckDB's own connection is the door: loads and factors are DuckDB SQL (read_csv,
  temp tables, lists), and a command a person waits on at a terminal (``ipi score``)
  has 0.5 s, of which SQLAlchemy's import and duckdb-engine's first connection
  would take ~0.2 s.
- SQLAlchemy (duckdb-engine) is the engine (``Store.engine``): the named migrations,
  recorded in ``ipi_migration``, run through it (``migrate()``), and it is what a tool
  that speaks SQLAlchemy is handed (pandas' ``read_sql`` in a notebook). It is imported
  only then. duckdb-engine opens the file with its own configuration (a user agent),
  and DuckDB refuses a second configuration while a connection is open in the process:
  so the store opens the engine's connection only for a migration, under the file's
  turn, before any connection of its own is open (a session migrates before it holds
  its connection), and an engine used beside the store is used between its reads.

Who takes what, by layer: a function that owns SQL, in the package that owns the tables
(``ipi.store``, ``ipi.score``, ``ipi.alerts``, ``ipi.fees``, ``ipi.capacity``,
``ipi.reports``), takes a connection and leaves the transaction to its caller, so that
several such calls can share one. A step takes the store (or the settings) and opens
``read()`` or ``write()`` around the calls that belong together: ``ipi.pipeline``,
``ipi.backfill``, ``ipi.api`` and the CLI, and, inside the packages, the functions that
span several transactions with work between them that must not hold the file (landing
a file, sending an alert, asking Amazon, rescoring after a refit): ``load_file``,
``deliver_pending``, ``alerts.engine.alert_account``, ``fees.amazon.store_preview`` and
``score.upgrade``.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from ipi.errors import StoreBusy, StoreUnavailable
from ipi.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ipi.settings import Settings

C = TypeVar("C")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _quiet(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("SET enable_progress_bar = false")


def _is_lock_error(exc: BaseException) -> bool:
    return "Could not set lock" in str(exc) or "Conflicting lock" in str(exc)


# DuckDB has one writer per database file. Threads of one process (accounts of a daily
# run, in parallel) each open their own connection; their transactions take turns here,
# so two never conflict on a shared row (the same raw file landed for two accounts),
# while everything between transactions (waiting for Amazon) runs in parallel.
_WRITERS: dict[Path, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer(path: Path) -> threading.RLock:
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(path.resolve(), threading.RLock())


def private(path: Path, mode: int) -> None:
    """Make ``path`` this user's alone (0o700 a folder, 0o600 a file): sellers' sales,
    SKUs and fees are nobody else's on the machine. Only what this user owns is touched;
    a file system that refuses (a mounted share) keeps its own rules."""
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_uid == os.getuid() \
                and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


class Store:
    def __init__(self, path: Path, *, data_dir: Path | None = None,
                 busy_timeout: float = 60.0, raw_dir: Path | None = None) -> None:
        self.path = Path(path)
        self._turn = _writer(self.path)
        self.data_dir = data_dir or self.path.parent
        # The landing zone of the files it loads (an account's own folder: offboarding
        # a client removes it with the client's file).
        self.raw_dir = raw_dir or self.data_dir / "raw"
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for folder in {self.path.parent, self.data_dir}:
            private(folder, 0o700)
        self._engine: sa.Engine | None = None
        self._migrated = False
        self._held: duckdb.DuckDBPyConnection | None = None

    @property
    def engine(self) -> sa.Engine:
        """SQLAlchemy's engine on the file (migrations, an analyst's pandas.read_sql); see
        the module's note for when its connection may be open."""
        if self._engine is None:
            import sqlalchemy as sa
            from sqlalchemy.pool import NullPool

            self._engine = sa.create_engine(f"duckdb:///{self.path}", poolclass=NullPool)
            # DuckDB draws its own progress bar on a terminal; ours (ipi backfill) says more.
            sa.event.listen(self._engine, "connect", _quiet)
        return self._engine

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        """The store of a configuration: its database, data folder and busy timeout."""
        return cls(settings.database_path, data_dir=settings.data_dir,
                   busy_timeout=settings.busy_timeout)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading: the session's, else one of its own, closed after."""
        with self._turn, self._connection() as con:
            yield con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction, committed on success, else rolled back: on the session's
        connection, else on one of its own, closed after."""
        with self._turn, self._connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextmanager
    def session(self, *, bulk: bool = False) -> Iterator[None]:
        """Hold one connection for several transactions (opening DuckDB costs ~60 ms);
        ``read()`` and ``write()`` inside it yield that connection.

        ``bulk`` (a backfill of thousands of files): DuckDB checkpoints when its
        write-ahead log passes 16 MB, which rewrites table blocks every few loads and
        halves the load rate; in bulk the log may grow to 1 GiB and is checkpointed
        once, at the end. Each load still commits (and is durable) on its own.
        """
        if self._held is not None:
            yield
            return
        with self._turn:  # opened under the turn, like every connection
            con = self._open()
        with closing(con):
            self._held = con
            if bulk:
                con.execute("SET checkpoint_threshold = '1GiB'")
            try:
                yield
            finally:
                self._held = None
                if bulk:  # in the turn: no other transaction of this process is open
                    with self._turn:
                        con.execute("RESET checkpoint_threshold")
                        con.execute("CHECKPOINT")

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None:
            yield self._held
            return
        with closing(self._open()) as con:
            yield con

    def _open(self) -> duckdb.DuckDBPyConnection:
        """A new connection on a migrated database (the caller holds the turn)."""
        con = self._retrying(lambda: duckdb.connect(str(self.path)))
        if not self._migrated:
            if not _up_to_date(con):
                con.close()  # the engine's connection may not overlap ours (module note)
                self._migrate()
                con = self._retrying(lambda: duckdb.connect(str(self.path)))
            self._migrated = True
        _quiet(con, None)
        return con

    def _retrying(self, connect: Callable[[], C]) -> C:
        """``connect()``, waiting while another process holds the file."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                return connect()
            except Exception as exc:  # sqlalchemy's OperationalError or duckdb.Error
                if not isinstance(exc, duckdb.Error) and not isinstance(
                        getattr(exc, "orig", None), duckdb.Error):
                    raise
                if not _is_lock_error(exc):
                    # Not writable, no space, not a DuckDB file: the operator's to fix.
                    why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                    raise StoreUnavailable(
                        f"the database {self.path} cannot be opened ({why}): check that "
                        "[store] data_dir is a writable folder with free space, and that "
                        "the file is an ipi database") from None
                if time.monotonic() >= deadline:
                    pid = re.search(r"PID (\d+)", str(exc))
                    who = f"process {pid.group(1)}" if pid else "another process"
                    raise StoreBusy(
                        f"the database {self.path} is held by {who} (probably a running ipi "
                        f"flow); waited {self.busy_timeout:.0f}s. Retry when it has finished."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def migrate(self) -> list[str]:
        """Apply the migrations this database lacks; return their names."""
        with self._turn:
            if self._held is not None or self._migrated:  # the session migrated before it
                return []  # held its connection
            if self.path.exists():  # up to date: no need of the engine (SQLAlchemy's import)
                with closing(self._retrying(lambda: duckdb.connect(str(self.path)))) as con:
                    if _up_to_date(con):
                        self._migrated = True
                        return []
            return self._migrate()

    def _migrate(self) -> list[str]:
        """Through the engine (module note), in one transaction."""
        applied: list[str] = []
        with closing(self._retrying(self.engine.connect)) as conn, conn.begin():
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS ipi_migration "
                "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            done = {r[0] for r in conn.exec_driver_sql("SELECT name FROM ipi_migration")}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                # Several statements in one string: DuckDB's own execute takes them.
                conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
                conn.exec_driver_sql(
                    "INSERT INTO ipi_migration (name, applied_at) VALUES ($name, $now)",
                    {"name": name, "now": utcnow()})
                applied.append(name)
        self._migrated = True
        private(self.path, 0o600)  # DuckDB made it with the process's umask
        return applied

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A read, as rows: ``rows`` on a ``read()`` connection."""
        with self.read() as con:
            return rows(con, sql, params)


def rows(con: duckdb.DuckDBPyConnection, sql: str,
         params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The result of ``sql`` (``$name`` parameters from ``params``) as dicts by column."""
    cur = con.execute(sql, params or {})
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _up_to_date(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        done = {r[0] for r in con.execute("SELECT name FROM ipi_migration").fetchall()}
    except duckdb.CatalogException:  # a new file
        return False
    return all(name in done for name, _ in MIGRATIONS)
