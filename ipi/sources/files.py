"""File drops: reports a seller downloaded from Seller Central, under any file name.

A drop folder per account; a sub-folder named after one of the account's
marketplaces (``drops/acme/UK/``) says which marketplace its files are for,
else the account's first marketplace is assumed (the planning report names its
own). Loaded files move to ``processed/``; a file that fails moves to
``failed/`` with ``<name>.reason.txt`` beside it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

from ipi.settings import Account
from ipi.sources import Fetched, Problem

PROCESSED, FAILED = "processed", "failed"
# Names a browser or sync tool gives a file it is still writing.
_PARTIAL = (".part", ".partial", ".crdownload", ".tmp", ".download")


def _unique(dest: Path) -> Path:
    n = 1
    candidate = dest
    while candidate.exists():
        candidate = dest.with_name(f"{dest.stem}.{n}{dest.suffix}")
        n += 1
    return candidate


def move_aside(path: Path, reason: str) -> Path:
    """Move a failed file to ``failed/`` beside it, with its reason in a text file."""
    dest = _unique(path.parent / FAILED / path.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), dest)
    dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return dest


def report_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The candidate report files under ``paths``, oldest first (a later download wins)."""
    found: list[Path] = []
    for p in paths:
        if p.is_file():
            found.append(p)
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if d not in (PROCESSED, FAILED)
                             and not d.startswith("."))
            for name in files:
                if name.startswith(".") or name.endswith(".reason.txt") or \
                        name.lower().endswith(_PARTIAL):
                    continue
                found.append(Path(root) / name)
    yield from sorted(found, key=lambda f: (f.stat().st_mtime, str(f)))


class FileDrops:
    """The ReportSource over an account's drop folder (or explicit paths for ``ipi ingest``)."""

    def __init__(self, root: Path, *, paths: list[Path] | None = None,
                 move_done: bool = True) -> None:
        self.root = root
        self.paths = paths
        self.move_done = move_done
        self.problems: list[Problem] = []

    def _marketplace(self, account: Account, path: Path) -> str:
        for part in path.parent.parts[::-1]:
            if part.upper() in account.marketplaces:
                return part.upper()
        return account.marketplaces[0]

    def fetch(self, account: Account, day: date) -> Iterator[Fetched]:
        roots = self.paths if self.paths is not None else [self.root]
        for path in report_files(r for r in roots if r.exists()):
            yield Fetched(path=path, marketplace=self._marketplace(account, path))

    def done(self, fetched: Fetched) -> None:
        if self.move_done:
            dest = _unique(fetched.path.parent / PROCESSED / fetched.path.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(fetched.path), dest)

    def failed(self, fetched: Fetched, reason: str) -> None:
        move_aside(fetched.path, reason)
