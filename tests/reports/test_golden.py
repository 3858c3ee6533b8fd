"""Golden files: every report parser against rows checked by hand.

A case is ``tests/data/reports/<REPORT_TYPE>/<case>.tsv`` (or ``.tsv.gz``) beside
``<case>.expected.json``: ``{"report_type", "charset", "rows"}``, where ``charset``
is what the SP-API would declare (null: none) and ``rows`` are exactly what the
report module's ``parse`` returns, dates written as "YYYY-MM-DD". Drop a pair in
and it runs. Write the expected rows from the input by hand, never by dumping the
parser's output: a golden file that copies the parser asserts nothing.

Some inputs are not plain UTF-8 on purpose (``cp1252-names.tsv`` and
``declared-cp1252.tsv`` are cp1252 with CRLF, ``crlf-bom.tsv`` starts with a BOM,
``gzip.tsv.gz`` is gzip): edit them with a tool that keeps their bytes, e.g.
``iconv -f cp1252 -t utf-8`` and back, or ``gunzip``/``gzip -n``.
"""

from __future__ import annotations

import gzip
import importlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ipi.reports import REGISTRY, ReportSpec, detect

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"
CASES = sorted(DATA.glob("*/*.expected.json"))
_PYTHON_TYPE = {"VARCHAR": str, "BIGINT": int, "DOUBLE": float, "DATE": date}


def _input_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    found = [p for p in (expected.with_name(f"{stem}.tsv"), expected.with_name(f"{stem}.tsv.gz"))
             if p.exists()]
    assert len(found) == 1, f"{expected}: needs exactly one of {stem}.tsv, {stem}.tsv.gz beside it"
    return found[0]


def _header(raw: bytes) -> list[str]:
    """The header fields, read independently of the parser's own decoding."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    line = raw.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = line.decode("cp1252")
    return text.split("\t")


def _column_types(spec: ReportSpec) -> dict[str, str]:
    # parse() returns the stage: snapshot_date and marketplace, then the spec's columns.
    return {"snapshot_date": "DATE", "marketplace": "VARCHAR",
            **{c.name: c.type for c in spec.columns}}


def _typed(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    return {k: date.fromisoformat(v) if types.get(k) == "DATE" and v is not None else v
            for k, v in row.items()}


@pytest.mark.parametrize(
    "expected_path", CASES, ids=[f"{p.parent.name}/{p.name.split('.')[0]}" for p in CASES]
)
def test_given_golden_file_when_parsed_then_rows_equal_expected(expected_path: Path) -> None:
    """A golden input parses to exactly its hand-written rows; its header alone names its type."""
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert set(expected) == {"report_type", "charset", "rows"}
    report_type = expected["report_type"]
    assert expected_path.parent.name == report_type
    path = _input_for(expected_path)
    raw = path.read_bytes()

    assert detect(_header(raw), path).report_type == report_type

    module = importlib.import_module(f"ipi.reports.{report_type.lower()}")
    assert report_type == module.REPORT_TYPE
    rows = module.parse(raw, charset=expected["charset"])

    types = _column_types(module.SPEC)
    want = [_typed(r, types) for r in expected["rows"]]
    assert len(rows) == len(want)
    for i, (got, exp) in enumerate(zip(rows, want, strict=True), start=1):
        assert got == exp, f"row {i} of {path.name}"
        wrong_type = {k: type(v).__name__ for k, v in got.items()
                      if v is not None and type(v) is not _PYTHON_TYPE[types[k]]}
        assert not wrong_type, f"row {i} of {path.name}: unexpected Python types {wrong_type}"


def test_every_registered_report_type_has_golden_files() -> None:
    """Every report type ipi reads has golden cases, and every case folder is such a type."""
    folders = {p.parent.name for p in CASES}
    assert folders == set(REGISTRY)
