"""Accounts of a daily run work in parallel, each on its own DuckDB file, sharing the landed
raw files without conflicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flows.daily import daily
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.store.accounts import Fleet

pytestmark = pytest.mark.usefixtures("prefect_api")

ACCOUNTS = ("acme", "bolt", "cora")


def test_accounts_run_in_parallel_and_all_load_score_and_alert(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """Three accounts with the same downloads (so the same bytes land for each at once):
    their runs overlap in time, and each loads, scores and keeps its own alert state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    accounts = "".join(f'[[accounts]]\nname = "{a}"\n' for a in ACCOUNTS)
    settings, config = make_settings(accounts=accounts)
    config.write_text(config.read_text().replace("[store]\n", "[run]\nparallel_accounts = 3\n"
                                                 "[store]\n"))
    day = demo_sim.day(0)
    for account in settings.accounts:
        write_day(demo_sim, 0, settings.drop_dir(account))

    state = daily(config=str(config), day=day, return_state=True)
    summary = state.result()
    assert {a: summary[a]["loaded"] for a in ACCOUNTS} == {a: 3 for a in ACCOUNTS}

    fleet = Fleet(settings)
    rows = fleet.query("SELECT account, count(*) AS n FROM daily_score GROUP BY ALL "
                       "ORDER BY account")
    assert rows == [{"account": a, "n": 1} for a in ACCOUNTS]
    landed = fleet.query("SELECT count(*) AS files, count(DISTINCT sha256) AS shas "
                         "FROM ingested_file")[0]
    assert landed == {"files": 9, "shas": 3}  # one landing copy per distinct file

    with get_client(sync_client=True) as client:
        runs = [t for t in client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
            if t.name.startswith("account_day")]
    assert len(runs) == 3
    assert max(r.start_time for r in runs) < min(r.end_time for r in runs)  # type: ignore[type-var]
