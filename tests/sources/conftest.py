"""A fake SP-API on 127.0.0.1 and accounts configured to use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sp_api.auth import access_token_client

from ipi.settings import Settings
from ipi.testing import FakeSpApi, account_toml
from tests.sources.helpers import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


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
            # Status checks and retries milliseconds apart: tests do not wait as runs do.
            text += account_toml(fake_sp_api, name, mps, poll_interval=0.02, backoff=0.01)
            text += f"{extra_sp}\n"  # more of the account's [accounts.sp_api] table
        return make_settings(urls=urls, accounts=text, extra=extra)

    return make
