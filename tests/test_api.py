"""The library's face: ``ipi.open(config)`` answers in DataFrames what the CLI prints,
refuses names and dates it does not know, and never writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import ipi
from flows.cli import main
from ipi.errors import ConfigError, UsageError
from ipi.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_scores_are_the_estimates_the_cli_prints(
        scored_demo: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, config = scored_demo
    lib = ipi.open(config)
    df = lib.scores(account="acme", last=3)
    assert main(["score", "--config", str(config), "--history", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(df) == len(printed) == 3
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert [str(d.date()) for d in df["date"]] == [r["date"] for r in printed]
    assert df["score"].round(6).tolist() == [round(r["score"], 6) for r in printed]
    assert df["date"].is_monotonic_increasing


def test_factors_are_long_form_with_the_scores_values(
        scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    lib = ipi.open(config)
    scores = lib.scores(account="acme", start="2026-08-01", end="2026-08-07")
    factors = lib.factors(account="acme", start="2026-08-01", end="2026-08-07")
    assert len(scores) == 7 and len(factors) == 4 * 7
    wide = factors.pivot_table(index="date", columns="factor", values="value")
    assert wide["excess"].tolist() == pytest.approx(scores["excess_pct"].tolist())
    assert wide["in_stock"].tolist() == pytest.approx(scores["in_stock_rate"].tolist())


def test_drivers_come_best_first_and_whatif_changes_the_estimate_without_storing_it(
        scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    lib = ipi.open(config)
    before = lib.scores(account="acme")
    drivers = lib.drivers(account="acme", n=5)
    assert 0 < len(drivers) <= 5
    gains = drivers["gain"].fillna(0).tolist()
    assert gains == sorted(gains, reverse=True)
    top = drivers.iloc[0]
    out = lib.whatif([f"remove {top.sku}:{top.units:.0f}", "restock NO-SUCH-SKU"],
                     account="acme")
    assert out["when"].tolist() == ["now", "after", "in 90 days"]
    assert out["score"][1] != pytest.approx(out["score"][0])
    assert lib.rows.whatif(["restock NO-SUCH-SKU"], "acme").outcome.unknown == ("NO-SUCH-SKU",)
    pd.testing.assert_frame_equal(lib.scores(account="acme"), before)  # nothing written


def test_unknown_names_and_bad_dates_are_refused_with_what_exists(
        scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    lib = ipi.open(config)
    with pytest.raises(ConfigError, match=r"no account named 'nope'.*known: acme"):
        lib.scores(account="nope")
    with pytest.raises(UsageError,
                       match=r"marketplace DE is not one of acme's marketplaces \(US\)"):
        lib.drivers(account="acme", marketplace="DE")
    with pytest.raises(UsageError, match="start '2026-13-01' is not a date: use YYYY-MM-DD"):
        lib.scores(start="2026-13-01")
    with pytest.raises(UsageError, match="action 'sell SKU'"):
        lib.whatif(["sell SKU"], account="acme")


def test_empty_answers_keep_their_columns(scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    lib = ipi.open(config)
    assert list(lib.alerts().columns)[:4] == ["date", "account", "marketplace", "rule"]
    assert lib.official().empty and "estimate" in lib.official().columns
    assert lib.scores(start="2099-01-01").empty and "score_high" in lib.scores().columns


def test_the_analyst_example_runs(scored_demo: tuple[Settings, Path],
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The analysts' page's Python block, run as written in the folder of an ipi.toml."""
    page = ROOT / "docs" / "guide" / "python.md"
    (block,) = re.findall(r"```python\n(.*?)\n```", page.read_text(), re.S)
    _, config = scored_demo
    monkeypatch.chdir(config.parent)
    scope: dict[str, object] = {}
    exec(compile(block, str(page.relative_to(ROOT)), "exec"), scope)
    weekly, drivers, after = scope["weekly"], scope["drivers"], scope["after"]
    assert isinstance(weekly, pd.Series) and len(weekly) >= 14  # 100 days, weekly
    assert isinstance(drivers, pd.DataFrame) and not drivers.empty
    assert isinstance(after, pd.DataFrame) and len(after) == 3
    assert "score_low" in capsys.readouterr().out


def _modules_loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; "
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("command", [["--help"], ["score"], ["alerts", "history"],
                                     ["official", "list"], ["alerts", "silence", "list"]])
def test_instant_commands_load_no_heavy_package(scored_demo: tuple[Settings, Path],
                                                command: list[str]) -> None:
    """A listing imports neither Prefect, pandas, apprise nor matplotlib: they cost more
    than the 0.5 s such a command may take (bench/cli.py measures the whole)."""
    _, config = scored_demo
    args = command + ([] if command == ["--help"] else ["--config", str(config)])
    loaded = _modules_loaded(f"from flows.cli import main\ntry:\n    main({args!r})\n"
                             "except SystemExit:\n    pass")
    heavy = {"prefect", "pandas", "apprise", "matplotlib", "numpy"}
    assert heavy & {m.split(".")[0] for m in loaded} == set()


def test_the_library_loads_without_prefect(scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    loaded = _modules_loaded(f"import ipi\nipi.open({str(config)!r}).scores()")
    assert "pandas" in loaded and "prefect" not in loaded and "flows" not in loaded
