"""The files in deploy/ agree with the code, with each other and with the lock file:
a Prefect upgrade in requirements.lock that leaves them behind fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import prefect
import yaml
from prefect.flows import load_flow_from_entrypoint

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_prefect_yaml_deploys_the_flows_for_the_pool_the_worker_serves() -> None:
    spec = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
    assert spec["prefect-version"] == prefect.__version__
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert set(by_name) == {"daily", "backfill"}
    for name, flow_name in (("daily", "ipi-daily"), ("backfill", "ipi-backfill")):
        d = by_name[name]
        flow = load_flow_from_entrypoint(d["entrypoint"], use_placeholder_flow=False)
        assert flow.name == flow_name
        assert set(d["parameters"]) <= set(inspect.signature(flow.fn).parameters)
        assert d["work_pool"]["name"] == "ipi"
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["worker"]["command"][-4:] == ["--pool", "ipi", "--type", "process"]
    assert services["server"]["image"].startswith(f"prefecthq/prefect:{prefect.__version__}-")
    assert set(services["worker"]["depends_on"]) == {"server"}
    assert set(services["server"]["depends_on"]) == {"postgres"}


def test_the_worker_image_copies_what_exists_and_the_unit_runs_ipi_serve() -> None:
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source
    unit = (DEPLOY / "ipi-serve.service").read_text()
    assert re.search(r"^ExecStart=\S+/ipi serve$", unit, re.M)
    assert "Restart=on-failure" in unit


def test_the_machines_yaml_gives_each_machine_its_pool_and_the_same_flow() -> None:
    """deploy/prefect.machines.yaml: one daily deployment per machine, each on a pool of
    its own, the rest as in prefect.yaml."""
    spec = yaml.safe_load((DEPLOY / "prefect.machines.yaml").read_text())
    base = {d["name"]: d for d in yaml.safe_load(
        (DEPLOY / "prefect.yaml").read_text())["deployments"]}["daily"]
    assert spec["prefect-version"] == prefect.__version__
    pools = [d["work_pool"]["name"] for d in spec["deployments"]]
    assert len(set(pools)) == len(pools) == 2
    for d in spec["deployments"]:
        assert d["entrypoint"] == base["entrypoint"] and d["parameters"] == {}
        assert (d["schedules"], d["concurrency_limit"]) == (base["schedules"],
                                                            base["concurrency_limit"])
