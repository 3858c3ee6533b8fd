"""Sellers' sales, SKUs and fees are nobody else's on the machine: ipi's folders are 0700,
its database and stored reports 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.sources.files import FileDrops
from ipi.store.accounts import account_path


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual 022 umask, under which files come out world-readable; restored after."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_makes_its_folder_database_and_reports_private(
        loose_umask: None, make_settings: Callable[..., tuple[Settings, Path]],
        demo_sim: Simulation) -> None:
    """Under a 022 umask, as a Prefect worker runs the flow: the data folder 0700, the
    DuckDB file 0600, every stored report 0600."""
    settings, _ = make_settings()
    settings.data_dir.mkdir(mode=0o755)
    account = settings.accounts[0]
    write_day(demo_sim, 0, settings.drop_dir(account))
    pipeline.ingest(pipeline.open_store(settings, account), account,
                    FileDrops(settings.drop_dir(account)), demo_sim.day(0))
    assert _mode(settings.data_dir) == 0o700
    assert _mode(settings.accounts_dir) == 0o700
    assert _mode(account_path(settings, account.name)) == 0o600
    raw = [p for p in settings.raw_dir.rglob("*") if p.is_file()]
    assert raw and all(_mode(p) == 0o600 for p in raw)


def test_the_cli_creates_everything_private(loose_umask: None, tmp_path: Path) -> None:
    """`ipi init` and what follows under the CLI: its umask is 077, so no file ipi or the
    Prefect server it starts creates is readable by another user."""
    assert main(["init", str(tmp_path / "here")]) == 0
    made = [p for p in (tmp_path / "here").rglob("*")]
    assert made and all(_mode(p) & 0o077 == 0 for p in made), \
        {str(p): oct(_mode(p)) for p in made}
