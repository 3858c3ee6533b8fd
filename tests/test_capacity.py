"""Capacity limits: typed in, checked before anything is written, listed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from flows.cli import main
from ipi.capacity import month_of
from ipi.capacity.limits import limits, set_limit
from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.store import Store
from ipi.store.accounts import Fleet


def test_set_replaces_and_limits_lists(fresh_db: Store) -> None:
    with fresh_db.write() as con:
        set_limit(con, "acme", "standard", "2026-12", 1200)
        set_limit(con, "acme", "Oversize", date(2026, 11, 20), "300.5")
        set_limit(con, "other", "apparel", "2026-12", 0)
        set_limit(con, "acme", "standard", "2026-12", 1500)  # replaces the first
    with fresh_db.read() as con:
        got = [(r.account, r.storage_type, r.month, r.limit_cuft) for r in limits(con)]
        assert [r.account for r in limits(con, "other")] == ["other"]
    assert got == [("acme", "oversize", date(2026, 11, 1), 300.5),
                   ("acme", "standard", date(2026, 12, 1), 1500.0),
                   ("other", "apparel", date(2026, 12, 1), 0.0)]


@pytest.mark.parametrize("kind, month, limit, message", [
    ("standrd", "2026-12", 1, "storage type 'standrd' is not one Amazon limits: did you mean "
                              "'standard'? use one of standard, oversize, apparel, footwear"),
    ("standard", "2026-13", 1, "month '2026-13' is not a month: use YYYY-MM, e.g. 2026-12"),
    ("standard", "12/2026", 1, "month '12/2026' is not a month"),
    ("standard", "2026-12", -5, "limit -5 is not a capacity"),
    ("standard", "2026-12", "nan", "limit 'nan' is not a capacity"),
    ("standard", "2026-12", "lots", "limit 'lots' is not a capacity"),
])
def test_bad_input_is_refused_and_nothing_written(fresh_db: Store, kind: str, month: str,
                                                  limit: float | str, message: str) -> None:
    with pytest.raises(ConfigError) as exc, fresh_db.write() as con:
        set_limit(con, "acme", kind, month, limit)
    assert str(exc.value).startswith(message)
    with fresh_db.read() as con:
        assert limits(con) == []


def test_month_of_gives_the_first_of_the_month() -> None:
    assert month_of("2026-02") == date(2026, 2, 1)
    assert month_of(date(2026, 2, 27)) == date(2026, 2, 1)


# -- the command line ----------------------------------------------------------------------

Make = Callable[..., tuple[Settings, Path]]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_set_then_list(make_settings: Make, capsys: pytest.CaptureFixture[str]) -> None:
    _, config = make_settings()
    code, out, err = _run(["capacity", "set", "--config", str(config), "--account", "acme",
                           "--storage-type", "standard", "--month", "2026-12", "--limit",
                           "1200"], capsys)
    assert (code, out, err) == (0, "recorded acme's standard capacity limit for 2026-12: "
                                   "1,200 cubic feet\n", "")
    _run(["capacity", "set", "--config", str(config), "--storage-type", "oversize",
          "--month", "2026-12", "--limit", "80"], capsys)  # the only account: acme
    code, out, _ = _run(["capacity", "list", "--config", str(config)], capsys)
    assert code == 0
    assert out.splitlines() == ["account  storage type  month    limit (cu ft)",
                                "acme     oversize      2026-12             80",
                                "acme     standard      2026-12          1,200"]
    code, out, _ = _run(["capacity", "list", "--config", str(config), "--json",
                         "--account", "acme"], capsys)
    doc = json.loads(out)
    assert code == 0
    assert [{k: r[k] for k in ("account", "storage_type", "month", "limit_cuft")}
            for r in doc] == [
        {"account": "acme", "storage_type": "oversize", "month": "2026-12", "limit_cuft": 80.0},
        {"account": "acme", "storage_type": "standard", "month": "2026-12",
         "limit_cuft": 1200.0}]
    assert all(list(r) == ["account", "storage_type", "month", "limit_cuft", "recorded_at"]
               and r["recorded_at"] for r in doc)


def test_cli_list_when_empty(make_settings: Make, capsys: pytest.CaptureFixture[str]) -> None:
    _, config = make_settings()
    assert _run(["capacity", "list", "--config", str(config), "--json"], capsys)[:2] == (
        0, "[]\n")
    code, out, _ = _run(["capacity", "list", "--config", str(config)], capsys)
    assert code == 0 and out.startswith("no capacity limits recorded")


@pytest.mark.parametrize("change, named", [
    (["--storage-type", "standrd"], "did you mean 'standard'?"),
    (["--limit", "-5"], "limit '-5' is not a capacity"),
    (["--limit=-0.5"], "limit '-0.5' is not a capacity"),
    (["--month", "2026-13"], "month '2026-13' is not a month: use YYYY-MM"),
    (["--month", "12/2026"], "month '12/2026' is not a month: use YYYY-MM"),
    (["--account", "nobody"], "nobody"),
])
def test_cli_bad_input_is_one_line_exit_2_nothing_stored(
        change: list[str], named: str, make_settings: Make,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = make_settings()
    args = {"--storage-type": "standard", "--month": "2026-12", "--limit": "1200"}
    flags = [c.split("=")[0] for c in change if c.startswith("--")]
    base = [x for k, v in args.items() if k not in flags for x in (k, v)]
    code, out, err = _run(["capacity", "set", "--config", str(config), *base, *change], capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("ipi: error: ") and named in err
    assert "Traceback" not in err
    with Fleet(settings).read() as con:  # every account's file
        assert limits(con) == []
