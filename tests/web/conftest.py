"""The dashboard's fixtures: two accounts in one real store, the real app under uvicorn on
a free loopback port, and a real headless Chromium (Debian's ``chromium``) driven by
Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ipi.demo import Simulation, write_day
from ipi.settings import Settings, load_settings
from tests.web.helpers import Browser

BETA_PLAYED = range(74, 79)  # beta's days run one by one, alerts included: 2026-08-14..18
BETA_OFFICIAL = date(2026, 8, 10)

CONFIG = """\
[store]
data_dir = "data"

[[accounts]]
name = "acme"
marketplaces = ["US"]

[[accounts]]
name = "beta"
marketplaces = ["US"]
"""


@pytest.fixture(scope="session")
def two_accounts(tmp_path_factory: pytest.TempPathFactory, scored_demo_data: Path,
                 demo_sim: Simulation) -> Settings:
    """acme: the demo seller's 100 scored days (``scored_demo_data``). beta: the same
    seller up to 2026-08-13 with an official score recorded, then five days run one by
    one through the daily steps, alerts included, so it ends under the threshold with
    the critical alert firing.
    Read-only for the tests."""
    from ipi import pipeline
    from ipi.score.official import Official, record
    from ipi.sources.files import FileDrops

    root = tmp_path_factory.mktemp("web")
    shutil.copytree(scored_demo_data, root / "data")
    (root / "ipi.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(root / "ipi.toml", env={})
    beta = settings.account("beta")
    clone_account(settings, "acme", "beta", demo_sim.day(BETA_PLAYED.start - 1))
    # One official score read in Seller Central: too few to calibrate, one mark on the chart.
    with pipeline.open_store(settings, beta).write() as con:
        record(con, beta, [Official("US", BETA_OFFICIAL, 455.0)])
    for i in BETA_PLAYED:
        folder = root / "beta" / f"day{i}"
        write_day(demo_sim, i, folder)
        run = pipeline.ingest(pipeline.open_store(settings, beta), beta,
                              FileDrops(folder, move_done=False), demo_sim.day(i))
        pipeline.score(settings, beta, demo_sim.day(i), run.days)
        pipeline.alert(settings, beta, demo_sim.day(i))
    return settings


def clone_account(settings: Settings, source: str, target: str, through: date) -> None:
    """Copy ``source``'s rows up to ``through`` into ``target``'s file: as if the same
    downloads had been loaded for it, in a second instead of the half minute loading takes
    (the files' names aside)."""
    from ipi.store.accounts import account_path, account_store

    with account_store(settings, target).write() as con:
        con.execute(f"ATTACH '{account_path(settings, source)}' AS src (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name, list(column_name) FROM information_schema.columns "
            "WHERE table_catalog = 'src' AND table_schema = 'main' GROUP BY table_name"
        ).fetchall()
        for table, columns in tables:
            # Which files were ingested stays acme's: a file whose content names its day
            # is recorded under the day it was ingested, and beta must load its own.
            if "account" not in columns or table == "ingested_file":
                continue
            day = next((c for c in ("snapshot_date", "date", "d", "default_date")
                        if c in columns), None)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * REPLACE ($target AS account) "
                        f"FROM src.{table} WHERE account = $source"
                        + (f" AND {day} <= $through" if day else ""),
                        {"target": target, "source": source,
                         **({"through": through} if day else {})})
        con.execute("DETACH src")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, as installed by `apt-get install chromium` (.ci/run does): a
    machine without it fails here rather than skipping what the dashboard must prove."""
    from playwright import sync_api

    executable = shutil.which("chromium")
    assert executable, "chromium is not installed: apt-get install chromium"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield Browser(b)
        finally:
            b.close()


@pytest.fixture(scope="module")
def server(two_accounts: Settings) -> Iterator[str]:
    """The dashboard over both accounts, without a token, on a free loopback port: its
    URL."""
    from ipi.web import start

    handle = start(two_accounts, port=0)
    try:
        yield handle.url
    finally:
        handle.stop()
