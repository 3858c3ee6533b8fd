"""Shared fixtures: real DuckDB files, a real SMTP server and webhook on loopback,
a real Prefect API for flow tests, and a small synthetic seller.

The suite runs under pytest-xdist (``-n auto --dist loadgroup``, pyproject's addopts): each
worker process has its own session fixtures (its own Prefect API), except the demo data,
built once per run (``built_once``); tests that share a fixture no two workers can share
run on one worker (``pytest_collection_modifyitems``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Prefect reads these at import: set them before anything imports it.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
import flows  # noqa: F401  (the product's own Prefect defaults)
from ipi.demo import Simulation, simulate
from ipi.settings import Settings, load_settings
from ipi.store import Store
from tests.helpers import DEMO_START, Mailbox, Webhook, built_once, serve_mailbox, serve_webhook


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: a process per CPU (xdist's count), none when only single tests are
    named (``pytest tests/test_cli.py::test_x`` runs in this process, as without xdist)."""
    args = config.option.file_or_dir or []
    return 0 if args and all("::" in a for a in args) else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker (every worker collects the same, in the same order):

    * tests using ``two_accounts`` (a session fixture a test writes to) run on one worker,
      and so do the tests of a module with module-scoped fixtures (a browser, a server),
      each built once rather than again whenever a worker comes back to the module;
    * the e2e tests, then the slow ones, are handed out first, so that no long test
      starts last while the other workers have nothing left to do.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs if fixtures is not None else {}
        if "two_accounts" in defs:
            item.add_marker(pytest.mark.xdist_group("two_accounts"))
        elif any(d[-1].scope in ("module", "class") for d in defs.values() if d):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=lambda i: (i.get_closest_marker("e2e") is None,
                              i.get_closest_marker("slow") is None))


@pytest.fixture(autouse=True)
def _no_ipi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly: no IPI_* variable leaks in from the shell."""
    for key in list(os.environ):
        if key.startswith("IPI_"):
            monkeypatch.delenv(key)


@pytest.fixture
def fresh_db(tmp_path: Path) -> Store:
    return Store(tmp_path / "data" / "ipi.duckdb", data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def demo_sim() -> Simulation:
    """A small synthetic seller: 40 SKUs, 100 report days from 2026-06-01, with the story."""
    return simulate(DEMO_START, 100, n_skus=40, seed=11)


@pytest.fixture(scope="session")
def scored_demo_data(tmp_path_factory: pytest.TempPathFactory, demo_sim: Simulation) -> Path:
    """A data folder with the demo seller's 100 days (account acme) loaded and scored
    once per run, every xdist worker's the same; copy it (``scored_demo``) before changing
    it."""
    from ipi import pipeline
    from ipi.demo import write_day
    from ipi.settings import settings_from_dict
    from ipi.sources.files import FileDrops


    def build(root: Path) -> Path:
        for i in range(100):
            write_day(demo_sim, i, root / "downloads")
        settings = settings_from_dict({"accounts": [{"name": "acme"}]}, base_dir=root, env={})
        account = settings.accounts[0]
        run = pipeline.ingest(pipeline.open_store(settings, account), account,
                              FileDrops(root / "downloads", move_done=False), demo_sim.day(0))
        pipeline.score(settings, account, demo_sim.day(0), run.days)
        return settings.data_dir

    return built_once(tmp_path_factory, "scored-demo", build)


@pytest.fixture
def scored_demo(make_settings: Callable[..., tuple[Settings, Path]],
                scored_demo_data: Path) -> tuple[Settings, Path]:
    """acme, with the demo seller's 100 days loaded and scored: (settings, config path)."""
    settings, config = make_settings()
    shutil.copytree(scored_demo_data, settings.data_dir)
    return settings, config


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., tuple[Settings, Path]]:
    """Write a TOML configuration in tmp_path and load it the way `ipi` does."""

    def make(*, urls: list[str] | None = None, accounts: str | None = None,
             extra: str = "") -> tuple[Settings, Path]:
        accounts = accounts or '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'
        # Retries due at once: tests play several runs in a second.
        # The dashboard of `ipi serve` on any free port: tests may run beside one on 8450.
        web = "" if "[web]" in extra else "[web]\nport = 0\n"
        text = (f'[store]\ndata_dir = "data"\n\n[alerts]\nurls = {json.dumps(urls or [])}\n'
                f"retry_backoff_minutes = 0\n{extra}\n{web}{accounts}")
        path = tmp_path / "ipi.toml"
        path.write_text(text, encoding="utf-8")
        return load_settings(path, env={}), path

    return make


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""
    yield from serve_mailbox()


@pytest.fixture
def webhook_server() -> Iterator[Webhook]:
    """A real HTTP webhook on 127.0.0.1 that records JSON bodies; can be told to fail."""
    yield from serve_webhook()


@pytest.fixture
def second_webhook() -> Iterator[Webhook]:
    """Another webhook, for two-channel scenarios."""
    yield from serve_webhook()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the whole session, heartbeats off (they cost ~1 s a run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90), \
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
