"""The generated references: the CLI reference is what the parser says today (CI runs
`cog --check` too), and it documents every option of every command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cogapp import Cog

from flows.cli import flow_commands
from ipi.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
CLI_PAGE = ROOT / "docs" / "reference" / "cli.md"


def _commands(parser: argparse.ArgumentParser, name: str = "ipi"
              ) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                out += _commands(p, f"{name} {sub}")
    return out


def test_the_cli_reference_is_current() -> None:
    """`cog --check` fails when a command's help changed and the page was not remade
    (`cog -r docs/reference/cli.md`)."""
    assert Cog().main(["cog", "--check", str(CLI_PAGE)]) == 0


def test_every_option_of_every_command_is_in_the_reference() -> None:
    page = CLI_PAGE.read_text()
    sections = dict(re.findall(r"^#+ `([^`]+)`\n(.*?)(?=^#+ `|\Z)", page, re.M | re.S))
    commands = _commands(build_parser([flow_commands]))
    assert len(commands) > 30  # every sub-command, not just the top level
    for name, parser in commands:
        assert name in sections, f"{name}: no section in docs/reference/cli.md"
        shared = {"-h", "--help", "--config", "-v", "--verbose", "-q", "--quiet"}
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in shared or name == "ipi":
                    assert f"`{flag}`" in sections[name], f"{name} {flag}: not documented"
