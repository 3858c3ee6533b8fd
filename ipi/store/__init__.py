"""The DuckDB store: transactions through SQLAlchemy (duckdb-engine), reads straight on
DuckDB.

DuckDB lets one process hold the file at a time, even for reading. Connections
are therefore short (no pool): open, do one unit of work, close. A process that
finds the file held waits up to ``busy_timeout`` seconds, then says which
process holds it.

Writes, and work that mixes reading and writing, take a SQLAlchemy transaction
(``begin``). A read a person waits on at a terminal (``read``, ``query``: ``ipi
score``, the history) opens DuckDB itself: importing SQLAlchemy and duckdb-engine,
and duckdb-engine's first connection, cost ~0.2 s of the 0.5 s such a command may
take, so SQLAlchemy is imported only when a transaction first needs it.
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


# Files this process has reached through SQLAlchemy. While one connection is open, DuckDB
# refuses another to the same file with a different configuration, and duckdb-engine sets
# its own (a user agent): once a process has used SQLAlchemy on a file, its reads take
# that way too. Both kinds are opened only under the file's turn, so they never overlap.
_ENGINES: set[Path] = set()


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
                 busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._key = self.path.resolve()
        self._turn = _writer(self.path)
        self.data_dir = data_dir or self.path.parent
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for folder in {self.path.parent, self.data_dir}:
            private(folder, 0o700)
        self._engine: sa.Engine | None = None
        self._migrated = False
        self._held: sa.Connection | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            import sqlalchemy as sa
            from sqlalchemy.pool import NullPool

            self._engine = sa.create_engine(f"duckdb:///{self.path}", poolclass=NullPool)
            # DuckDB draws its own progress bar on a terminal; ours (ipi backfill) says more.
            sa.event.listen(self._engine, "connect", _quiet)
            _ENGINES.add(self._key)
        return self._engine

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        """The store of a configuration: its database, data folder and busy timeout."""
        return cls(settings.database_path, data_dir=settings.data_dir,
                   busy_timeout=settings.busy_timeout)

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction, committed on success, else rolled back.

        On a fresh connection, or on the one a surrounding ``session()`` holds.
        """
        with self._turn:
            if self._held is not None:
                if not self._migrated:
                    self._migrate(self._held)
                with self._held.begin():
                    yield self._held
                return
            with self._connect() as conn:
                if not self._migrated:  # on the same connection: opening one costs ~20 ms
                    self._migrate(conn)
                with conn.begin():
                    yield conn

    @contextmanager
    def session(self, *, bulk: bool = False) -> Iterator[None]:
        """Hold one connection for several transactions (opening DuckDB costs ~60 ms).

        ``bulk`` (a backfill of thousands of files): DuckDB checkpoints when its
        write-ahead log passes 16 MB, which rewrites table blocks every few loads and
        halves the load rate; in bulk the log may grow to 1 GiB and is checkpointed
        once, at the end. Each load still commits (and is durable) on its own.
        """
        if self._held is not None:
            yield
            return
        with self._turn:  # opened under the turn, like every connection (see _ENGINES)
            conn = self._retrying(self.engine.connect)
        with closing(conn):
            self._held = conn
            if bulk:
                duck(conn).execute("SET checkpoint_threshold = '1GiB'")
            try:
                yield
            finally:
                self._held = None
                if bulk:  # in the turn: no other transaction of this process is open
                    with self._turn:
                        duck(conn).execute("RESET checkpoint_threshold")
                        duck(conn).execute("CHECKPOINT")

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        with self._open(self.engine.connect) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection for reading, without SQLAlchemy (see the module's note). A
        database that lacks migrations gets them first, through a transaction; inside a
        session, or once this process has used SQLAlchemy on the file, the read is a
        transaction too."""
        with self._turn, self._direct() as con:
            if con is not None:
                yield con
                return
            with self.begin() as conn:
                yield duck(conn)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on DuckDB itself, committed on success, else rolled back: for
        work whose SQL is all DuckDB's (a load), without SQLAlchemy's import and
        connection costs (see the module's note). As ``read``: a database that lacks
        migrations, a surrounding ``session()``, or a process that has used SQLAlchemy on
        the file, and it is a ``begin()`` transaction instead."""
        with self._turn, self._direct() as con:
            if con is not None:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                return
            with self.begin() as conn:
                yield duck(conn)

    @contextmanager
    def _direct(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A connection of DuckDB's own, on a migrated database, when this process may
        hold one (see the module's note); else None, and the caller takes ``begin()``."""
        if self._held is None and self._key not in _ENGINES:
            with self._open(lambda: duckdb.connect(str(self.path))) as con:
                if self._migrated or _up_to_date(con):
                    self._migrated = True
                    _quiet(con, None)
                    yield con
                    return
        yield None

    def _open(self, connect: Callable[[], C]) -> Any:
        """``connect()``, waiting while another process holds the file, closed after use."""
        return closing(self._retrying(connect))

    def _retrying(self, connect: Callable[[], C]) -> C:
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
        with self._turn, self._connect() as conn:
            return self._migrate(conn)

    def _migrate(self, conn: sa.Connection) -> list[str]:
        applied: list[str] = []
        with conn.begin():
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS ipi_migration "
                "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            done = {r[0] for r in conn.exec_driver_sql("SELECT name FROM ipi_migration")}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                duck(conn).execute(sql)
                conn.exec_driver_sql(
                    "INSERT INTO ipi_migration VALUES (?, ?)", (name, utcnow())
                )
                applied.append(name)
        self._migrated = True
        private(self.path, 0o600)  # DuckDB made it with the process's umask
        return applied

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """A read, as rows (``params``: a list for ``?``, a dict for ``$name``)."""
        with self.read() as con:
            cur = con.execute(sql, params if isinstance(params, dict) else list(params))
            cols = [d[0] for d in cur.description or ()]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _up_to_date(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        done = {r[0] for r in con.execute("SELECT name FROM ipi_migration").fetchall()}
    except duckdb.CatalogException:  # a new file
        return False
    return all(name in done for name, _ in MIGRATIONS)


def duck(conn: sa.Connection) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under a SQLAlchemy one, for DuckDB-only SQL (read_csv, temp tables)."""
    return conn.connection.driver_connection  # type: ignore[return-value]
