"""The landing zone: the original bytes of every ingested file, named by their sha256.

Files live under ``<data_dir>/raw/<first two hex digits>/<sha256>``, exactly as
received (gzip stays gzip), so any day can be re-parsed after a parser fix.
Writes go to a temporary name and are renamed into place: a crash leaves at
worst an orphan temporary file, never a wrong one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

_CHUNK = 1 << 22


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def landing_path(raw_dir: Path, sha256: str) -> Path:
    return raw_dir / sha256[:2] / sha256


def land(raw_dir: Path, path: Path, sha256: str) -> Path:
    """Copy ``path`` into the landing zone unless its bytes are already there."""
    dest = landing_path(raw_dir, sha256)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A name per thread: accounts of one run, each on its own file (ipi.store.accounts),
    # land the same bytes at once, and each must rename its own copy.
    tmp = dest.with_name(f".{sha256}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.copyfile(path, tmp)
    tmp.chmod(0o600)  # the report's rows are the seller's alone (its folder is 0700 too)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest
