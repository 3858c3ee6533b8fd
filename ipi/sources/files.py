"""File drops: reports a seller downloaded from Seller Central, under any file name.

A drop folder per account; a sub-folder named after one of the account's
marketplaces (``drops/acme/UK/``) says which marketplace its files are for,
else the account's first marketplace is assumed (the planning report names its
own). Loaded files move to ``processed/``; a file that fails moves to
``failed/`` with ``<name>.reason.txt`` beside it. That is for a drop folder the
daily run consumes only: files named to ``ipi ingest`` or a backfill are the
user's own, and nothing in their folders is moved, renamed or written
(``move_done=False``); what failed is reported instead.

A zip or tar among them (old downloads, for a backfill) is read member by member
(``ipi.sources.archive``): a folder inside it named after a marketplace counts as
for folders, and a member's own time is the day assumed when neither its name nor
its content gives one. A refused member (unsafe name, link, bomb, encrypted) fails
the run with its reason; a member that does not load is copied to ``failed/`` with
its reason (in a drop folder only: the archive is the user's own otherwise). The
archive moves to ``processed/`` once all its members were handled, or to
``failed/`` when it cannot be read at all.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

from ipi.errors import BadInput, ConfigError
from ipi.settings import MARKETPLACE_TIMEZONES, Account
from ipi.sources import Fetched, Problem
from ipi.sources.archive import Limits, Refused, archive_kind, members

log = logging.getLogger(__name__)

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


# A drop folder is a folder of its own: ipi moves what it finds there. Never these, nor
# anything under the first group, nor the home folder itself or a folder above it.
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc",
                 "/sbin", "/sys", "/usr", "/System", "/Library")
_SYSTEM = ("/", "/home", "/opt", "/root", "/run", "/srv", "/tmp", "/var", "/mnt", "/media",
           "/Users", "/Applications", "/Volumes")


def not_dedicated(folder: Path) -> str | None:
    """Why ``folder`` cannot be a drop folder (a system folder, the home folder or one
    above it), or None."""
    where = folder.resolve()
    home = Path.home().resolve()
    if str(where) in _SYSTEM or any(where.is_relative_to(t) for t in _SYSTEM_TREES):
        what = "a system folder"
    elif where == home or home.is_relative_to(where):
        what = "the home folder" if where == home else "a folder holding the home folder"
    else:
        return None
    return (f"the drop folder {folder} is {what}: ipi moves the files it finds in a drop "
            "folder, so it needs one of its own; set drop_dir to a new folder, e.g. "
            "~/ipi-drops/<account>")


def irregular(path: Path) -> str | None:
    """Why ``path`` is not opened at all: a link (it could point at a secret or a device)
    or a special file (a FIFO would hang the read), looked at without following it."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return ("a link, not a file: ipi opens regular files only; put the downloaded "
                "report itself there")
    if not stat.S_ISREG(mode):
        return ("not a regular file (a pipe, socket or device): ipi opens regular files "
                "only; put the downloaded report itself there")
    return None


_SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")


def preflight(path: Path) -> str | None:
    """Why a dropped file will not load, where that shows without reading it (``ipi
    check``): a link or special file, an empty file, or a spreadsheet export rather than
    the report's text."""
    if (why := irregular(path)) is not None:
        return why
    if path.stat().st_size == 0:
        return "empty: download the report again"
    if path.suffix.lower() in _SPREADSHEETS:
        return ("a spreadsheet, not the report: download it from Seller Central as text "
                "(.txt or .tsv)")
    return None


def report_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The candidate report files under ``paths``, oldest first (a later download wins);
    links and special files among them too, never followed (``irregular`` says why they
    are not read)."""
    found: list[Path] = []
    for p in paths:
        if p.is_symlink() or not p.is_dir():
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
    yield from sorted(found, key=lambda f: (f.lstat().st_mtime, str(f)))


class FileDrops:
    """The ReportSource over an account's drop folder (or explicit paths for ``ipi ingest``)."""

    def __init__(self, root: Path, *, paths: list[Path] | None = None,
                 move_done: bool = True, archive_limits: Limits | None = None) -> None:
        self.root = root
        self.paths = paths
        self.move_done = move_done
        self.archive_limits = archive_limits
        self.problems: list[Problem] = []
        self._archive_of: dict[Path, Path] = {}  # a member's temporary copy -> its archive

    def _marketplace(self, account: Account, path: Path) -> str:
        for part in path.parent.parts[::-1]:
            if part.upper() in account.marketplaces:
                return part.upper()
        return account.marketplaces[0]

    def _foreign(self, account: Account, path: Path, roots: list[Path]) -> str | None:
        """A sub-folder (under the drop folder) named for a marketplace the account does
        not have: why its file is set aside rather than loaded as the first one's."""
        for root in roots:
            if path.is_relative_to(root) and path != root:
                for part in path.relative_to(root).parent.parts:
                    code = part.upper()
                    if code in MARKETPLACE_TIMEZONES and code not in account.marketplaces:
                        return (f"in a folder named {part}, a marketplace account "
                                f"{account.name} does not have ({', '.join(account.marketplaces)})"
                                f": add {code} to the account's marketplaces, or move the file")
        return None

    def _stranger(self, path: Path) -> str | None:
        """Why a file in the drop folder is left where it is, unread and unmoved: not a
        regular file, or not owned by the drop folder's owner."""
        if (why := irregular(path)) is not None:
            return why
        if self.paths is None and path.lstat().st_uid != self.root.stat().st_uid:
            return ("owned by another user than the drop folder's: ipi reads and moves only "
                    "its owner's files; copy the report in as that user")
        return None

    def _leave(self, path: Path, why: str) -> None:
        """Report a file ipi will not touch, once: the reason file beside it says it was
        told (remove both to be told again)."""
        note = path.with_name(path.name + ".reason.txt")
        if note.exists():
            log.info("%s left as it is: %s (told before)", path.name, why)
            return
        log.error("%s left as it is: %s", path.name, why)
        self.problems.append(Problem(path.name, why, fatal=True))
        if self.move_done:
            note.write_text(why + "\n", encoding="utf-8")

    def fetch(self, account: Account, day: date) -> Iterator[Fetched]:
        if self.paths is None and self.move_done \
                and (why := not_dedicated(self.root)) is not None:
            raise ConfigError(why)
        roots = self.paths if self.paths is not None else [self.root]
        for path in report_files(r for r in roots if r.exists() or r.is_symlink()):
            if (why := self._stranger(path)) is not None:
                self._leave(path, why)
            elif (why := self._foreign(account, path, roots)) is not None:
                log.error("%s set aside: %s", path.name, why)
                self.problems.append(Problem(path.name, why, fatal=True))
                if self.move_done:
                    move_aside(path, why)
            elif archive_kind(path):
                yield from self._unpack(account, path)
            else:
                yield Fetched(path=path, marketplace=self._marketplace(account, path))

    def _unpack(self, account: Account, archive: Path) -> Iterator[Fetched]:
        """A Fetched per member, each a temporary copy that lives until the next is asked for."""
        seen = 0
        try:
            with closing(members(archive, limits=self.archive_limits)) as items:
                for item in items:
                    seen += 1
                    label = f"{archive.name}:{item.name}"
                    if isinstance(item, Refused):
                        log.error("%s refused: %s", label, item.reason)
                        self.problems.append(Problem(label, item.reason, fatal=True))
                        continue
                    self._archive_of[item.path] = archive
                    # A folder inside the archive names the marketplace, then the archive's own.
                    where = archive.parent.joinpath(*item.name.split("/"))
                    yield Fetched(path=item.path, marketplace=self._marketplace(account, where),
                                  default_date=item.modified, name=label)
        except (BadInput, OSError) as exc:
            reason = (str(exc).removeprefix(f"{archive}: ") if isinstance(exc, BadInput)
                      else f"cannot be read: {exc}")
            log.error("%s failed: %s", archive.name, reason)
            self.problems.append(Problem(archive.name, reason, fatal=True))
            if self.move_done:  # else it would be tried again every day
                move_aside(archive, reason)
            return
        if not seen:
            self.problems.append(Problem(archive.name, "holds no files to load (only folders, "
                                         "hidden files or __MACOSX/)", fatal=False))
        if self.move_done:
            self._processed(archive)

    def _processed(self, path: Path) -> None:
        dest = _unique(path.parent / PROCESSED / path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), dest)

    def done(self, fetched: Fetched) -> None:
        if self._archive_of.pop(fetched.path, None) is not None:
            return  # the archive moves once all its members were handled
        if self.move_done:
            self._processed(fetched.path)

    def failed(self, fetched: Fetched, reason: str) -> None:
        archive = self._archive_of.pop(fetched.path, None)
        if not self.move_done:
            return  # the user's own folder: the run reports the failure, the file stays
        if archive is None:
            move_aside(fetched.path, reason)
        else:
            # The member cannot be moved out of the archive: a copy goes where failed
            # files go, so the drop folder shows it beside its reason.
            dest = _unique(archive.parent / FAILED / fetched.path.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fetched.path, dest)
            dest.with_name(dest.name + ".reason.txt").write_text(
                f"{fetched.label}: {reason}\n", encoding="utf-8")
