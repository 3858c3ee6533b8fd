"""The landing zone: a report's bytes kept once, under their hash."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ipi.store import landing
from ipi.store.landing import land, sha256_of


def test_given_two_accounts_landing_the_same_bytes_at_once_then_both_land_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads of one run (two accounts, each on its own database file, so nothing
    makes them take turns) land identical bytes at the same moment: each copies and
    renames its own temporary file, both get the landed file, and no temporary is left."""
    report = tmp_path / "report.tsv"
    report.write_bytes(b"sku\tqty\nA-1\t3\n")
    sha = sha256_of(report)
    both_copied = threading.Barrier(2, timeout=10)
    copy = shutil.copyfile

    def copy_then_wait(src: Path, dst: Path) -> Path:
        done = copy(src, dst)
        both_copied.wait()  # neither renames before the other has copied
        return Path(done)

    monkeypatch.setattr(landing.shutil, "copyfile", copy_then_wait)
    raw = tmp_path / "raw"
    with ThreadPoolExecutor(2) as pool:
        landed = list(pool.map(lambda _: land(raw, report, sha), range(2)))

    assert landed[0] == landed[1] == raw / sha[:2] / sha
    assert landed[0].read_bytes() == report.read_bytes()
    assert [p.name for p in landed[0].parent.iterdir()] == [sha]
