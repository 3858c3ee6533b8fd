"""The README and the guide tell the truth: the two commands, the test command CI runs,
the command table, the example config."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import apprise

from flows.cli import flow_commands
from ipi.cli import build_parser
from ipi.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands(parser: argparse.ArgumentParser, path: str = "ipi") -> list[str]:
    """Every command path of the parser, nested ones included (`ipi alerts silence list`)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += [f"{path} {name}", *_commands(sub, f"{path} {name}")]
    return out


def test_every_command_is_documented() -> None:
    """Each `ipi` command, and each of its sub-commands, appears in the guide's table of
    commands (docs/guide/commands.md), which says what it is for and where it is explained."""
    page = (ROOT / "docs" / "guide" / "commands.md").read_text()
    table = page.split("\n| command |")[1].split("\n\n")[0]
    commands = _commands(build_parser([flow_commands]))
    assert "ipi alerts silence expire" in commands
    for command in commands:
        assert f"`{command}" in table, command


def test_ci_runs_the_readme_test_command() -> None:
    """The README's test command is what .ci/run runs, and nothing else."""
    quick = README.split("## Quick start")[1].split("\n## ")[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert blocks[-1] == "scripts/test"
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == "scripts/test"


def test_readme_gives_exactly_two_commands_to_start() -> None:
    """Quick start: one command for the demo, one for the tests and checks."""
    quick = README.split("## Quick start")[1].split("\n## ")[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert blocks == [
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.lock -e . "
        "&& .venv/bin/ipi demo",
        "scripts/test",
    ]


def test_example_configuration_loads() -> None:
    """config/ipi.example.toml is a valid configuration."""
    settings = load_settings(ROOT / "config" / "ipi.example.toml", env={})
    assert [a.name for a in settings.accounts] == ["acme"]
    assert settings.policy.threshold == 450


def test_example_apprise_file_parses() -> None:
    """config/apprise.example.yml is an apprise config with a Slack and an email target."""
    cfg = apprise.AppriseConfig()
    cfg.add(str(ROOT / "config" / "apprise.example.yml"))
    a = apprise.Apprise()
    a.add(cfg)
    assert sorted(s.service_name for s in a) == ["E-Mail", "Slack"]
    from ipi.alerts.deliver import Notifier

    slack, mail = sorted(Notifier(config_file=ROOT / "config" / "apprise.example.yml").targets,
                         key=lambda t: t.name, reverse=True)
    assert (slack.kinds, slack.accounts, slack.shape) == ({"inventory"}, set(), "short")
    assert (mail.kinds, mail.accounts, mail.shape) == ({"ops"}, {"acme"}, "email")
