"""A single gzip report meets the decompression limits archives meet: a bomb is refused
while it inflates, before it fills a disk."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from ipi.errors import BadFile
from ipi.store import Store
from ipi.store.load import load_file


def test_a_gzip_bomb_is_refused_while_it_inflates(fresh_db: Store, tmp_path: Path) -> None:
    """A stranded report's header and 64 MB of one character in under 1 MB of gzip (far past
    100:1) is refused as a bomb, naming the limit; nothing is stored."""
    path = tmp_path / "stranded-20261205.tsv.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"primary-action\tdate-stranded\tstranded-reason\tasin\tsku\tfulfillable-qty\n")
        for _ in range(64):
            f.write(b"0" * (1 << 20))
    assert path.stat().st_size < (1 << 20)
    with pytest.raises(BadFile, match=r"expands past 100:1 .*a gzip bomb"):
        load_file(fresh_db, "acme", path, ingest_day=date(2026, 12, 5),
                  default_marketplace="US")
    assert fresh_db.query("SELECT count(*) AS n FROM report_partition") == [{"n": 0}]


def test_a_real_gzip_report_still_loads(fresh_db: Store, tmp_path: Path) -> None:
    """An ordinary report compressed with gzip loads as before (its ratio is far under)."""
    path = tmp_path / "stranded-20261205.tsv.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"primary-action\tdate-stranded\tstranded-reason\tasin\tsku\tfulfillable-qty\t"
                b"unfulfillable-qty\treserved-quantity\n"
                b"Relist\t2026-11-01\tListing closed\tB01\tS1\t3\t0\t2\n")
    result = load_file(fresh_db, "acme", path, ingest_day=date(2026, 12, 5),
                       default_marketplace="US")
    assert result.rows == 1
