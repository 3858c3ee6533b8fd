"""Helpers the source tests share (no tests or fixtures here: those are in conftest.py):
the LWA credentials the fake SP-API is given, and a look at the database from another
process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLIENT_ID, CLIENT_SECRET = "amzn1.application-oa2-client.test", "test-client-secret"
REFRESH_TOKEN = "Atzr|IwEB-KNOWN-FAKE-REFRESH-TOKEN-0042"


def partitions_seen_by_another_process(database: Path) -> str:
    """``report_partition``'s row count as another process reads it, read-only: the proof
    that a run waiting for Amazon holds no lock on the file."""
    read = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
         "read_only=True).execute('SELECT count(*) FROM report_partition').fetchone()[0])",
         str(database)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    return read.stdout.strip()
