"""Turn whatever Amazon or a seller gave us into a plain UTF-8 file DuckDB can read.

Charset order: the declared one (SP-API Content-Type), else UTF-8, else cp1252
(what Seller Central emits for EU/US accounts with accented product names).
A BOM and CRLF line ends are accepted; gzip is recognised by its magic bytes,
never by the file name. Plain UTF-8 files are handed to DuckDB as they are
(after a streaming validity check): copying them would double the cost of the
common case. DuckDB itself cannot fall back: a failed read aborts the load's
transaction.

``direct`` is the fast way in, tried first by a load: the file as it is (gzip
included, which DuckDB decompresses itself), its header read from the first
line only. It applies when nothing says the file is not UTF-8; DuckDB's reader
then checks every field it reads, and a file it refuses (not UTF-8, damaged
gzip, a bad value) is loaded again through ``prepared``, which decides the
charset on the whole file and names what is wrong.
"""

from __future__ import annotations

import codecs
import gzip
import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from ipi.errors import BadFile

GZIP_MAGIC = b"\x1f\x8b"
_LATIN1 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"}
_CHUNK = 1 << 22
# DuckDB's read_csv expands these in a path: "stock?.txt" or "plan [DE].txt" would
# read the files beside it that the pattern matches, too or instead.
_GLOB = re.compile(r"[*?\[]")
# How far a gzip report may expand before it is taken for a bomb: the limits an archive's
# members have (ipi.sources.archive.Limits), so a .gz alone or in a zip meets the same.
GZIP_MAX_BYTES = 4 << 30  # a planning report of 1M rows is ~330 MB
GZIP_RATIO = 100  # report TSVs compress 5-15:1; a bomb 1000:1
GZIP_RATIO_AFTER = 8 << 20  # small files (a header, blank columns) compress better


@dataclass(frozen=True)
class Prepared:
    """A readable UTF-8 (or cp1252, see ``charset``) file and its header fields."""

    path: Path
    header: list[str]
    charset: str  # the charset the original was decoded with
    compressed: bool
    # Whether ``path`` is still gzip-compressed (``direct``): DuckDB decompresses it.
    gzip: bool = False


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def _inflate(src: Path, original: Path) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file, streamed; refused as soon as they pass
    ``GZIP_MAX_BYTES`` or ``GZIP_RATIO`` times the file's size (a bomb fills no disk)."""
    packed = max(src.stat().st_size, 1)
    inflated = 0
    try:
        with gzip.open(src, "rb") as fin:
            while chunk := fin.read(_CHUNK):
                inflated += len(chunk)
                if inflated > GZIP_MAX_BYTES or (
                        inflated > GZIP_RATIO_AFTER and inflated > GZIP_RATIO * packed):
                    raise BadFile(
                        f"the gzip data expands past {GZIP_RATIO}:1 or "
                        f"{GZIP_MAX_BYTES >> 30} GiB (over {inflated >> 20} MB from "
                        f"{packed:,} bytes; reports compress 5-15:1): a gzip bomb? If it is "
                        "a real report, decompress it and ingest the file itself",
                        path=original)
                yield chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise BadFile(
            f"the gzip data is truncated or damaged ({exc}); download the report again",
            path=original,
        ) from None


def check_gzip(path: Path) -> None:
    """Refuse a gzip file that expands past the limits, before DuckDB inflates it."""
    for _ in _inflate(path, path):
        pass


def _gunzip(src: Path, dst: Path, original: Path) -> None:
    with dst.open("wb") as fout:
        for chunk in _inflate(src, original):
            fout.write(chunk)


def transcode(src: Path, dst: Path, charset: str, original: Path) -> None:
    """Re-encode ``src`` from ``charset`` to UTF-8, streaming."""
    try:
        decoder = codecs.getincrementaldecoder(charset)()
    except LookupError:
        raise BadFile(f"unknown charset {charset!r}", path=original) from None
    try:
        with src.open("rb") as fin, dst.open("w", encoding="utf-8", newline="") as fout:
            while chunk := fin.read(_CHUNK):
                fout.write(decoder.decode(chunk))
            fout.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise BadFile(
            f"cannot be decoded as {charset} (byte {exc.object[exc.start:exc.end]!r} "
            f"at offset {exc.start} of a chunk); save it again as UTF-8",
            path=original,
        ) from None


def is_utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (streaming: memory stays flat)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_line(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.readline(1 << 20)


def _first_line_gz(path: Path) -> bytes:
    with gzip.open(path, "rb") as f:
        return f.readline(1 << 20)


def decode_header(raw: bytes, charset: str | None) -> tuple[list[str], str]:
    """Split the header line; return the fields and the charset that read them."""
    for cs in [charset] if charset else ["utf-8", "cp1252"]:
        try:
            text = raw.decode(cs)
        except (UnicodeDecodeError, LookupError):
            continue
        text = text.removeprefix("\ufeff").rstrip("\r\n")
        return text.split("\t"), cs
    return [], "unknown"


def _readable(path: Path, tmp: str) -> Path:
    """``path``, or a link to it DuckDB will not read as a glob pattern."""
    if not _GLOB.search(str(path)):
        return path
    alias = Path(tmp) / "report"
    try:
        alias.symlink_to(path.resolve())
    except OSError:  # no symlinks here (Windows without the privilege)
        shutil.copyfile(path, alias)
    return alias


def direct(path: Path, declared_charset: str | None = None) -> Prepared | None:
    """The file for DuckDB to read as it is (gzip too), or None when it must go through
    ``prepared``: a declared charset other than UTF-8, a header that is not UTF-8, an
    empty or unreadable file, a name DuckDB would take for a pattern. Reads the first
    line only."""
    charset = declared_charset.lower().replace("_", "-") if declared_charset else None
    if charset not in (None, "utf-8", "utf8") or _GLOB.search(str(path)):
        return None
    try:
        if path.stat().st_size == 0:
            return None
        compressed = is_gzip(path)
        first = _first_line_gz(path) if compressed else _first_line(path)
    except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
        return None
    if first[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
        return None
    header, used = decode_header(first, "utf-8")
    if used != "utf-8" or not header or header == [""]:
        return None
    if compressed:  # DuckDB would inflate it without a limit: count it first
        check_gzip(path)
    return Prepared(path, header, "utf-8", compressed, gzip=compressed)


@contextmanager
def prepared(path: Path, declared_charset: str | None = None) -> Iterator[Prepared]:
    """Yield the file as UTF-8 text, made in a temporary folder when needed."""
    if path.stat().st_size == 0:
        raise BadFile("the file is empty (0 bytes); download the report again", path=path)
    with TemporaryDirectory(prefix="ipi-") as tmp:
        current = path
        compressed = is_gzip(path)
        if compressed:
            current = Path(tmp) / "gunzipped"
            _gunzip(path, current, path)
            if current.stat().st_size == 0:
                raise BadFile("the gzip file holds no data; download it again", path=path)
        with current.open("rb") as f:
            magic = f.read(4)
        if magic in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
            raise BadFile("this is a spreadsheet (xlsx/xls) or a zip, not a report: download "
                          "the report as tab-separated text", path=path)
        charset = declared_charset.lower() if declared_charset else None
        if charset in _LATIN1:
            # Servers say ISO-8859-1 for what is cp1252 (its superset for printable text):
            # reading it as latin-1 would turn the euro sign and dashes into control characters.
            charset = "cp1252"
        if charset is None and not is_utf8(current):
            # Decided on the whole file, not its first line: an ASCII header is common
            # above cp1252 product names.
            charset = "cp1252"
        header, charset_used = decode_header(_first_line(current), charset)
        if not header or header == [""]:
            raise BadFile("the first line is empty: a report starts with its header", path=path)
        if charset_used not in ("utf-8", "utf8"):
            utf8 = Path(tmp) / "utf8"
            transcode(current, utf8, charset_used, path)
            current = utf8
        yield Prepared(_readable(current, tmp), header, charset_used, compressed)
