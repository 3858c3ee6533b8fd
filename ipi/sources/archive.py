"""Archives of old Seller Central downloads (zip, tar, tar.gz/.bz2/.xz), read one member at a time.

A seller backfilling history hands over a zip of a downloads folder: any file
names, nested folders, marketplace folders (``UK/``). Each regular file in it is
copied to a private temporary file, handed to the caller, and deleted before the
next one is read, so disk use stays at one member. Member names are only read,
never used as a path to write to: the copy gets a sanitised base name (the
loader reads a date from it) inside a directory of its own.

Refused, each with its reason, while the rest of the archive is still read:

- names that would land outside a folder: absolute, a drive letter, ``..``
  (backslashes count as separators: Windows tools write them);
- links, devices and pipes (tar entries, and zip entries marked as symlinks);
- encrypted zip members, and compression methods Python cannot read (Deflate64);
- an archive inside the archive: extract it first. Reading it too would multiply
  the bomb limits below and hide where a file came from;
- bombs: a member that expands past ``Limits.member_bytes``, or past
  ``Limits.ratio`` times its compressed size once beyond ``Limits.ratio_after``.
  Bytes are counted as they are written, never trusted from the sizes a zip
  declares (a tar's stated size may refuse a member early: a tar stream holds
  exactly those bytes, so they count even for members passed over). Past
  ``Limits.total_bytes`` for the whole archive, that member and the rest are not
  read.

Skipped without a word: folders, hidden files, ``__MACOSX/``, ``Thumbs.db``,
``desktop.ini`` and the ``.reason.txt`` files ipi writes beside failed files.

A single ``.gz`` is not an archive: it is one gzipped report, which the loader
reads. An xlsx or ods is a zip too, but a spreadsheet: it is left to the loader,
which says to download the report as text.

Zip members come oldest first (the zip's index has their times, so sorting is
free), so a later download of the same report wins, as in a folder. A tar is read
as a stream, in its own order: sorting a compressed tar would decompress it again
for every member.
"""

from __future__ import annotations

import lzma
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Literal

from ipi.errors import BadFile

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members; an empty zip
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_NOT_NAME = re.compile(r"[^\w. -]")  # what a temporary copy's name keeps of the member's
_JUNK = {"__macosx", "thumbs.db", "desktop.ini"}  # what macOS and Windows add to a zip
# What a damaged member's data raises while being read (OSError is left alone: a full
# disk is not the archive's fault and must not be reported as if it were).
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError)
_BAD_ZIP = (zipfile.BadZipFile, ValueError, EOFError)  # a zip index that cannot be read


GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Limits:
    """How much an archive may expand to before it is taken for a bomb."""

    member_bytes: int = 4 << 30  # a planning report of 1M rows is ~330 MB
    total_bytes: int = 32 << 30
    ratio: int = 100  # report TSVs compress 5-15:1; a bomb 1000:1
    ratio_after: int = 8 << 20  # small files (a header, blank columns) compress better


def inflate(content: bytes, limits: Limits) -> bytes:
    """A document held in memory (Amazon's fee preview, a failure document): ``content``
    decompressed if it is gzip (by its magic bytes, never a header's word), refused with
    BadFile once it expands past ``limits``: a bomb never fills memory."""
    if len(content) > limits.member_bytes:
        raise BadFile(f"the document is over {limits.member_bytes >> 20} MB, more than "
                      "it may be: not read")
    if not content.startswith(GZIP_MAGIC):
        return content
    out: list[bytes] = []
    size = 0
    rest = content
    try:
        while rest.startswith(GZIP_MAGIC):  # a gzip stream may hold several members
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = rest
            while not d.eof:
                # At most a chunk at a time: the limits are checked before memory grows.
                chunk = d.decompress(data, _CHUNK)
                data = d.unconsumed_tail
                size += len(chunk)
                if size > limits.member_bytes or (size > limits.ratio_after
                                                  and size > limits.ratio * len(content)):
                    raise BadFile(
                        f"the gzip document expands past {limits.ratio}:1 or "
                        f"{limits.member_bytes >> 20} MB (over {size >> 20} MB from "
                        f"{len(content):,} bytes): a gzip bomb? Not read")
                out.append(chunk)
                if not chunk and not data and not d.eof:
                    raise BadFile("the gzip document is truncated: ask Amazon again")
            rest = d.unused_data
    except zlib.error as exc:
        raise BadFile(f"the gzip document is damaged ({exc}): ask Amazon again") from None
    if rest.strip(b"\x00"):
        raise BadFile("the gzip document has bytes after its end that are not gzip: damaged")
    return b"".join(out)


@dataclass(frozen=True)
class Member:
    """A file from the archive, as a temporary copy deleted once the caller moves on."""

    name: str  # inside the archive, "/"-separated: "UK/planning 2024-03-01.txt"
    path: Path
    modified: date | None  # the member's time, if the archive recorded one


@dataclass(frozen=True)
class Refused:
    """A member that was not read, and why."""

    name: str  # as the archive spells it
    reason: str


class _Refusal(Exception):
    def __init__(self, reason: str, written: int, *, stops: bool = False) -> None:
        super().__init__(reason)
        self.written = written
        self.stops = stops  # the archive's total limit: the rest is not read either


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def archive_kind(path: Path) -> Literal["zip", "tar"] | None:
    """Whether ``path`` is a zip or a tar archive, judged by its content, never its name."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic in ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except _BAD_ZIP:
            return "zip"  # a damaged zip: members() says so
        # xlsx/docx ([Content_Types].xml) and ods (mimetype) are zips, but documents.
        return None if names & {"[Content_Types].xml", "mimetype"} else "zip"
    # is_tarfile alone is not enough: a block of zeros opens as an empty tar, and a
    # gzipped report must stay a report. A tar has a first member with a valid header.
    try:
        with tarfile.open(path, "r|*") as tf:
            return "tar" if tf.next() is not None else None
    except (*_DAMAGED, OSError):
        return None


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name)


def _unsafe(name: str) -> str | None:
    """Why the member's name is refused (it points outside the archive's folder), or None."""
    norm = name.replace("\\", "/")
    if "\x00" in norm or norm.startswith("/") or _DRIVE.match(norm) \
            or ".." in norm.split("/"):
        return ("an unsafe name (absolute, a drive letter or '..') that points outside the "
                "archive's folder: not read; if you need the file, extract it yourself and "
                "ingest it")
    return None


def _parts(name: str) -> list[str] | None:
    """The folders and base name of a safe member name; None for a folder or junk."""
    norm = name.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if norm.endswith("/") or not parts or parts[-1].endswith(".reason.txt") \
            or any(p.startswith(".") or p.lower() in _JUNK for p in parts):
        return None
    return parts


def _temp_name(base: str) -> str:
    """A name for the temporary copy: the member's base name (the loader reads a date in
    it), anything but letters, digits, spaces, dots and dashes replaced."""
    safe = _NOT_NAME.sub("_", base).lstrip(". ") or "member"
    return safe if len(safe) <= 80 else safe[:60] + safe[-20:]  # keep the suffix


def _copy(src: IO[bytes], dest: Path, limits: Limits, room: int,
          compressed: Callable[[], int]) -> int:
    """Copy ``src`` to ``dest``; refuse before a byte past a limit is written."""
    written = 0
    with dest.open("xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limits.member_bytes:
                raise _Refusal(_member_reason(limits), written)
            if written > room:
                raise _Refusal(_total_reason(limits), written, stops=True)
            packed = max(compressed(), 1)
            if written > limits.ratio_after and written > limits.ratio * packed:
                raise _Refusal(
                    f"expands more than {limits.ratio}:1 ({_size(written)} from "
                    f"{_size(packed)}; reports compress 5-15:1): a zip bomb? If it is a real "
                    "report, extract it and ingest the file itself", written)
            out.write(chunk)
    return written


def _fixed(n: int) -> Callable[[], int]:
    return lambda: n


def _read_since(raw: IO[bytes], start: int) -> Callable[[], int]:
    """The compressed bytes a stream has consumed since ``start``."""
    return lambda: raw.tell() - start


def _member_reason(limits: Limits) -> str:
    return (f"expands to more than {_size(limits.member_bytes)}, the limit for one file: a "
            "zip bomb, or not a report; if it is a real report, extract it and ingest the "
            "file itself")


def _total_reason(limits: Limits) -> str:
    return (f"the archive expands to more than {_size(limits.total_bytes)} in all, its "
            "limit: this member and the rest were not read; split the archive, or extract "
            "it and ingest the folder")


def _offer(name: str, parts: list[str], copy: Path,
           modified: date | None) -> Iterator[Member | Refused]:
    """The extracted member, unless it is an archive itself; its copy goes afterwards."""
    try:
        if archive_kind(copy):
            yield Refused(_printable(name), "an archive inside the archive: extract it first "
                          "and ingest the folder (archives are read one level deep)")
        else:
            yield Member("/".join(parts), copy, modified)
    finally:
        copy.unlink(missing_ok=True)


def member_count(path: Path) -> int:
    """How many items ``members`` yields for ``path`` (files and refusals, not folders or
    junk), without extracting anything: for a progress bar. A tar is read through once."""
    def counted(name: str, is_dir: bool) -> bool:
        return _unsafe(name) is not None or (not is_dir and _parts(name) is not None)

    try:
        kind = archive_kind(path)
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                return sum(counted(i.filename, i.is_dir()) for i in zf.infolist())
        if kind == "tar":
            with tarfile.open(path, "r|*") as tf:
                return sum(counted(i.name, i.isdir()) for i in tf)
    except (*_DAMAGED, *_BAD_ZIP):
        return 1  # the archive's own failure
    return 0


def members(path: Path, *, limits: Limits | None = None,
            workdir: Path | None = None) -> Generator[Member | Refused, None, None]:
    """Each file in the archive ``path``, one at a time, or the reason it was refused.

    A ``Member``'s temporary copy exists until the next item is asked for (or the
    iteration is closed); the private temporary directory (made under ``workdir``,
    else the system's) is always removed. Raises BadFile when the archive itself
    cannot be read; for a tar, from where its stream breaks, after the members before.
    """
    kind = archive_kind(path)
    if kind is None:
        raise BadFile("is not a zip or tar archive", path=path)
    limits = limits or Limits()
    tmp = Path(tempfile.mkdtemp(prefix="ipi-archive-", dir=workdir))
    try:
        if kind == "zip":
            yield from _zip_members(path, limits, tmp)
        else:
            yield from _tar_members(path, limits, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _zip_date(info: zipfile.ZipInfo) -> date | None:
    if info.date_time[:3] == (1980, 1, 1):  # the zip format's zero: no time was recorded
        return None
    try:
        return date(*info.date_time[:3])
    except ValueError:
        return None


def _zip_refusal(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0  # 3: made on Unix
    if stat.S_ISLNK(mode):
        return "a symbolic link: links are not followed; put the file itself in the archive"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file (a device or pipe): only files are read"
    if info.flag_bits & 0x1:
        return "encrypted: ipi takes no passwords; extract it yourself and ingest the files"
    return None


def _zip_members(path: Path, limits: Limits, tmp: Path) -> Iterator[Member | Refused]:
    try:
        zf = zipfile.ZipFile(path)
    except _BAD_ZIP as exc:
        raise BadFile(f"is not a readable zip ({exc}): download or zip it again",
                      path=path) from None
    # A lying header may claim any compressed size; what is read cannot exceed the file.
    size = path.stat().st_size
    total = 0
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: (i.date_time, i.filename)):
            name = info.filename
            parts = _parts(name)
            reason = _unsafe(name) or (_zip_refusal(info) if parts else None)
            if reason:
                yield Refused(_printable(name), reason)
                continue
            if parts is None:
                continue
            copy = tmp / _temp_name(parts[-1])
            packed = min(info.compress_size, size)
            try:
                with zf.open(info) as f:
                    total += _copy(f, copy, limits, limits.total_bytes - total,
                                   _fixed(packed))
            except _Refusal as exc:
                copy.unlink(missing_ok=True)
                total += exc.written
                yield Refused(_printable(name), str(exc))
                if exc.stops:
                    return
                continue
            except NotImplementedError as exc:  # Deflate64, which Windows uses for big files
                copy.unlink(missing_ok=True)
                yield Refused(_printable(name), f"cannot be unpacked here ({exc}); zip it "
                              "again with ordinary deflate, or extract it and ingest the files")
                continue
            except _DAMAGED as exc:
                copy.unlink(missing_ok=True)
                yield Refused(_printable(name), f"is damaged ({exc}); download or zip it again")
                continue
            yield from _offer(name, parts, copy, _zip_date(info))


def _tar_date(info: tarfile.TarInfo) -> date | None:
    if not info.mtime:
        return None
    try:
        return datetime.fromtimestamp(info.mtime).date()
    except (OverflowError, OSError, ValueError):
        return None


def _tar_refusal(info: tarfile.TarInfo) -> str | None:
    if info.issym() or info.islnk():
        return (f"a link to {_printable(info.linkname)!r}: links are not followed; put the "
                "file itself in the archive")
    if not info.isreg() and not info.isdir():
        return "not a regular file (a device or pipe): only files are read"
    return None


def _tar_members(path: Path, limits: Limits, tmp: Path) -> Iterator[Member | Refused]:
    total = 0
    reading, last = None, None  # the member being copied; the last one copied whole
    with path.open("rb") as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|*") as tf:
                for info in tf:
                    # A stream is decompressed through every member, read or passed over
                    # (a hidden one too), so the total counts the sizes in the headers:
                    # a tar holds exactly those bytes, or it fails to read.
                    if total + info.size > limits.total_bytes:
                        yield Refused(_printable(info.name), _total_reason(limits))
                        return
                    total += info.size
                    parts = None if info.isdir() else _parts(info.name)
                    reason = _unsafe(info.name) or (_tar_refusal(info) if parts else None)
                    if reason is None and parts and info.size > limits.member_bytes:
                        reason = _member_reason(limits)  # no need to write it to know
                    if reason:
                        yield Refused(_printable(info.name), reason)
                        continue
                    if parts is None:
                        continue
                    reading = info.name
                    copy = tmp / _temp_name(parts[-1])
                    start = raw.tell()
                    data = tf.extractfile(info)
                    assert data is not None  # a regular file always has data
                    try:
                        _copy(data, copy, limits, limits.total_bytes,
                              _read_since(raw, start))
                    except _Refusal as exc:
                        copy.unlink(missing_ok=True)
                        yield Refused(_printable(info.name), str(exc))
                        continue
                    reading, last = None, info.name
                    yield from _offer(info.name, parts, copy, _tar_date(info))
        except _DAMAGED as exc:
            where = (f"in {_printable(reading)!r}" if reading else
                     f"after {_printable(last)!r}" if last else "at its start")
            raise BadFile(f"the archive is damaged {where} ({exc}); the members before it "
                          "were read: download or pack it again", path=path) from None
