"""A fake SP-API on 127.0.0.1 and accounts configured to use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sp_api.auth import access_token_client

from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from tests.fakes.sp_api import FakeSpApi

PLANNING = "GET_FBA_INVENTORY_PLANNING_DATA"
STRANDED = "GET_STRANDED_INVENTORY_UI_DATA"
MYI = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
MARKETPLACE_IDS = {"US": "ATVPDKIKX0DER", "CA": "A2EUQ1WTGCTBG2", "MX": "A1AM78C64UM0Y8",
                   "UK": "A1F83G8C2ARO7P", "DE": "A1PA6795UKMFR9"}
CLIENT_ID, CLIENT_SECRET = "amzn1.application-oa2-client.test", "test-client-secret"
REFRESH_TOKEN = "Atzr|IwEB-KNOWN-FAKE-REFRESH-TOKEN-0042"


@pytest.fixture
def fake_sp_api() -> Iterator[FakeSpApi]:
    """A stateful fake of the Reports API and the LWA token endpoint on 127.0.0.1."""
    access_token_client.cache.clear()  # the library caches tokens process-wide
    with FakeSpApi() as fake:
        yield fake
    access_token_client.cache.clear()


@pytest.fixture
def sp_settings(make_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
                monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Settings, Path]]:
    """Settings whose accounts fetch from the fake SP-API, credentials in the environment."""
    monkeypatch.setenv("IPI_LWA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("IPI_LWA_CLIENT_SECRET", CLIENT_SECRET)

    def make(accounts: dict[str, list[str]] | None = None, *, urls: list[str] | None = None,
             extra_sp: str = "", extra: str = "") -> tuple[Settings, Path]:
        accounts = accounts or {"acme": ["US"]}
        text = ""
        for name, mps in accounts.items():
            monkeypatch.setenv(f"IPI_{name.upper().replace('-', '_')}_REFRESH_TOKEN",
                               f"{REFRESH_TOKEN}-{name}")
            text += (f'[[accounts]]\nname = "{name}"\nmarketplaces = {mps!r}\n'
                     f'source = "sp-api"\n[accounts.sp_api]\nendpoint = "{fake_sp_api.url}"\n'
                     f'token_url = "{fake_sp_api.token_url}"\npoll_interval = 0.02\n'
                     f"backoff = 0.01\n{extra_sp}\n")
        return make_settings(urls=urls, accounts=text.replace("'", '"'), extra=extra)

    return make


def serve_day(fake: FakeSpApi, sim: Simulation, i: int, folder: Path,
              marketplaces: list[str], *, myi_charset: str | None = None) -> None:
    """What Amazon generates for day ``i`` of the demo seller, per marketplace."""
    planning, myi, stranded = write_day(sim, i, folder / str(i))
    for mp in marketplaces:
        mp_id = MARKETPLACE_IDS[mp]
        fake.set_document(PLANNING, mp_id,
                          planning.read_bytes().replace(b"\tUS\t", f"\t{mp}\t".encode()))
        fake.set_document(MYI, mp_id, myi.read_bytes(), charset=myi_charset)
        fake.set_document(STRANDED, mp_id, stranded.read_bytes())


def partitions_seen_by_another_process(database: Path) -> str:
    """``report_partition``'s row count as another process reads it, read-only: the proof
    that a run waiting for Amazon holds no lock on the file."""
    import subprocess
    import sys

    read = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
         "read_only=True).execute('SELECT count(*) FROM report_partition').fetchone()[0])",
         str(database)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    return read.stdout.strip()
