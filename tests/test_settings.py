"""The configuration is checked whole when it is read: every section, every account's
overrides, every number's range; a mistake is one line naming file, section and key."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from ipi.errors import ConfigError
from ipi.settings import (
    Account,
    Alerts,
    Backfill,
    Policy,
    Settings,
    SpApi,
    Target,
    load_settings,
    settings_from_dict,
)

ACME = '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ipi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_given_account_policy_typo_when_loaded_then_refused_at_load_not_mid_run(
        tmp_path: Path) -> None:
    """A typo in [accounts.policy] fails when the file is read, naming the account and the
    nearest valid key, so no command starts with it."""
    message = _error(tmp_path, ACME + "[accounts.policy]\nthreshhold = 400\n")
    assert message == ("[accounts.policy] of account \"acme\": unknown key 'threshhold' "
                       "(did you mean 'threshold'?)")


def test_given_account_overrides_when_loaded_then_policy_for_merges_them(
        tmp_path: Path) -> None:
    """Overrides apply over [policy]; the account's own threshold is one of them."""
    settings = load_settings(_write(tmp_path, "[policy]\nthreshold = 420\nfor_days = 2\n"
                                    + ACME + "threshold = 430\n[accounts.policy]\n"
                                    "repeat_days = 3\n"), env={})
    policy = settings.policy_for(settings.accounts[0])
    assert (policy.threshold, policy.for_days, policy.repeat_days) == (430, 2, 3)
    assert policy.recovery == 450


def test_given_override_that_breaks_the_merged_policy_when_loaded_then_refused(
        tmp_path: Path) -> None:
    """A check across keys runs on each account's effective policy too: a recovery
    threshold under the account's threshold is refused."""
    message = _error(tmp_path, "[policy]\nrecovery_threshold = 470\n" + ACME
                     + "[accounts.policy]\nthreshold = 480\n")
    assert message.startswith('[accounts.policy] of account "acme": recovery_threshold = 470 '
                              "is under threshold = 480")


@pytest.mark.parametrize("text", [
    "[policy]\nthreshold = 0\n",
    "[policy]\nthreshold = 1000\nrecovery_threshold = 1000\n",
    "[policy]\nthreshold = 450\nrecovery_threshold = 450\n",
    "[policy]\nfor_days = 1\nrepeat_days = 1\nwarning_window_days = 0\nwarning_margin = 0\n",
    "[policy]\nrow_drop_threshold = 0\nstranded_jump_units = 0\nexcess_jump_pct = 0\n",
    "[store]\nrun_lock_wait = 0\nbusy_timeout = 0.5\n[alerts]\nretry_backoff_minutes = 0\n",
    '[[accounts]]\nname = "a.b_c-1"\nmarketplaces = ["us", "ca"]\nthreshold = 0\n',
])
def test_given_values_at_the_edges_of_their_ranges_when_loaded_then_accepted(
        tmp_path: Path, text: str) -> None:
    """Range checks refuse only what is out of range: each bound itself is accepted."""
    load_settings(_write(tmp_path, text), env={})


def test_given_lower_case_marketplaces_when_loaded_then_upper_cased(tmp_path: Path) -> None:
    """Marketplace codes are case-insensitive and kept upper-case."""
    settings = load_settings(_write(tmp_path, '[[accounts]]\nname = "acme"\n'
                                    'marketplaces = ["us", "de"]\n'), env={})
    assert settings.accounts[0].marketplaces == ("US", "DE")


def test_given_several_mistakes_when_loaded_then_all_named_in_one_line(tmp_path: Path) -> None:
    """Every problem of the file is listed at once, separated by semicolons."""
    message = _error(tmp_path, "[policy]\nthreshold = 4500\nfor_days = 0\n")
    assert message == ("[policy]: threshold = 4500 is out of range: use a number from 0 to "
                       "1000; [policy]: for_days = 0 is out of range: use a whole number of "
                       "at least 1")


@pytest.mark.parametrize("text, message", [
    ('data_dir = "x"\n', "the top level: unknown key 'data_dir' (it belongs under [store])"),
    ("[polcy]\nthreshold = 1\n", "the top level: unknown section [polcy] (did you mean "
     "[policy]?)"),
    ("policy = 3\n", "[policy] is not a table"),
    ("[store]\ndata_dir = 5\n", "[store]: data_dir = 5 is not a path: put it in quotes"),
    ('[accounts]\nname = "acme"\n', "[accounts] is not an array of tables"),
    ('[[accounts]]\nmarketplaces = ["US"]\n', "[[accounts]] #1: name is required"),
    (ACME + ACME, "[[accounts]]: the name 'acme' is used twice"),
    ('[policy]\ncheckpoints = ["soon"]\n', '[policy]: checkpoints[0] = "soon" is not a date: '
     "write YYYY-MM-DD"),
    ('[policy]\nplan_by = "price"\n', "[policy]: plan_by = \"price\" must be 'units' or 'cost'"),
    ('[run]\nschedule = "daily"\n', '[run]: schedule = "daily": \'daily\' is not a cron line'),
    (ACME + 'source = "sp-api"\n[accounts.sp_api]\npoll_interval = 0\n',
     '[accounts.sp_api] of account "acme": poll_interval = 0 is out of range: use a number '
     "over 0"),
])
def test_given_a_malformed_file_when_loaded_then_one_line_says_where_and_what(
        tmp_path: Path, text: str, message: str) -> None:
    """Shapes the models cannot see (misplaced keys, unknown sections, tables that are not
    tables) and values of every kind are named by section and key."""
    assert _error(tmp_path, text).startswith(message)


def test_given_a_secret_in_a_wrongly_typed_url_when_loaded_then_it_is_not_echoed(
        tmp_path: Path) -> None:
    """Values of keys that may carry a token are named, never shown, in errors."""
    message = _error(tmp_path, '[[alerts.targets]]\nurl = ["slack://xoxb-SECRET/a/b"]\n')
    assert message == "[[alerts.targets]] #1: url is not text: put it in quotes"


def test_given_a_dict_without_a_path_when_checked_then_the_message_has_no_file(
        tmp_path: Path) -> None:
    """settings_from_dict checks the same way; without a file there is none to name."""
    with pytest.raises(ConfigError, match=r"^\[policy\]: unknown key 'x'"):
        settings_from_dict({"policy": {"x": 1}}, base_dir=tmp_path, env={})


@pytest.mark.parametrize("model", [Settings, Policy, Alerts, Backfill, Account, SpApi, Target])
def test_every_numeric_setting_has_a_range(model: type[Settings]) -> None:
    """No number is taken unchecked: every int or float field declares its bounds."""
    for name, field in model.model_fields.items():
        types = {field.annotation, *get_args(field.annotation)}
        if types & {int, float}:
            bounds = [m for m in field.metadata
                      if any(hasattr(m, a) for a in ("ge", "gt", "le", "lt"))]
            assert bounds, f"{model.__name__}.{name} has no range"


def test_a_renamed_key_says_what_replaces_it(tmp_path: Path) -> None:
    """repeat_daily_before_check, from before the page budget, names its replacement."""
    with pytest.raises(ConfigError, match=r"^\[policy\]: repeat_daily_before_check is gone: "
                                          r"use remind_before_check = \[7, 1\]"):
        settings_from_dict({"policy": {"repeat_daily_before_check": 7}}, base_dir=tmp_path,
                           env={})


@pytest.mark.parametrize("field, url", [
    ("token_url", "http://api.amazon.com/auth/o2/token"),
    ("endpoint", "http://sellingpartnerapi-na.amazon.com"),
    ("token_url", "ftp://api.amazon.com/token"),
])
def test_credentials_go_over_https_only(field: str, url: str, tmp_path: Path) -> None:
    """The refresh token and client secret travel to sp_api.token_url and endpoint: http
    to another machine is refused, naming the field."""
    with pytest.raises(ConfigError, match=f"{field} = .*must start with https://"):
        settings_from_dict({"accounts": [{"name": "a", "source": "sp-api",
                                          "sp_api": {field: url}}]},
                           env={}, base_dir=tmp_path)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8999/auth/o2/token",
                                 "http://localhost:8999/t", "http://[::1]:8999/t",
                                 "https://api.amazon.com/auth/o2/token"])
def test_https_or_a_test_double_on_this_machine_is_accepted(url: str, tmp_path: Path) -> None:
    settings = settings_from_dict({"accounts": [{"name": "a", "source": "sp-api",
                                                 "sp_api": {"token_url": url}}]},
                                  env={}, base_dir=tmp_path)
    assert settings.accounts[0].sp_api.token_url == url
