"""Archives of old downloads: read member by member, safely, and loaded like the files.

Every archive here is written by the test with zipfile / tarfile; the reports in
them are the golden files, so "the same rows" means the rows those files load.
"""

from __future__ import annotations

import io
import random
import stat
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.settings import Account, Settings
from ipi.sources.archive import Limits, Member, Refused, archive_kind, member_count, members
from ipi.sources.files import FAILED, PROCESSED, FileDrops
from ipi.store import Store
from ipi.store.accounts import account_store
from ipi.store.load import load_file

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "tests" / "data" / "reports"
PLANNING = REPORTS / "GET_FBA_INVENTORY_PLANNING_DATA" / "live-layout.tsv"
PLANNING_GZ = REPORTS / "GET_FBA_INVENTORY_PLANNING_DATA" / "gzip.tsv.gz"
MYI = REPORTS / "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA" / "reference-header.tsv"
STRANDED = REPORTS / "GET_STRANDED_INVENTORY_UI_DATA" / "reference-header.tsv"
LEDGER = REPORTS / "GET_LEDGER_SUMMARY_VIEW_DATA" / "daily-by-country.tsv"
TABLES = ("fba_inventory_planning", "fba_myi_inventory", "stranded_inventory", "ledger_summary")
ZIPPED = (2026, 3, 5, 9, 30, 0)  # the members' time in the test zips
ZIPPED_DAY = date(2026, 3, 5)
# The day of ingestion: never the one a member should get (and past: a later one is refused).
TODAY = date(2026, 1, 1)
# DE: the planning golden file's rows are for DE.
ACCOUNTS = '[[accounts]]\nname = "acme"\nmarketplaces = ["US", "UK", "DE"]\n'
Content = bytes | Path


@pytest.fixture
def settings(make_settings: Callable[..., tuple[Settings, Path]]) -> tuple[Settings, Path]:
    """An account selling in the US, the UK and DE; its store is the one fresh_db opens."""
    return make_settings(accounts=ACCOUNTS)


@pytest.fixture
def account(settings: tuple[Settings, Path]) -> Account:
    return settings[0].accounts[0]


def write_zip(path: Path, files: dict[str, Content], when: tuple[int, ...] = ZIPPED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def add_tar(tf: tarfile.TarFile, name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE,
            link: str = "", when: date = ZIPPED_DAY) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    info.mtime = int(datetime(when.year, when.month, when.day, 12, tzinfo=UTC).timestamp())
    tf.addfile(info, io.BytesIO(data) if data else None)


def patch_zip(path: Path, member: str, *, local_at: int, central_at: int, value: bytes) -> None:
    """Overwrite a field of ``member``'s local and central headers, as a hostile tool would."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for sig, name_at, at in ((b"PK\x03\x04", 30, local_at), (b"PK\x01\x02", 46, central_at)):
        i = data.find(sig)
        while i != -1:
            if data[i + name_at:i + name_at + len(name)] == name:
                data[i + at:i + at + len(value)] = value
            i = data.find(sig, i + 1)
    path.write_bytes(bytes(data))


def ingest(store: Store, account: Account, *paths: Path, **kw: Any) -> pipeline.IngestRun:
    """What `ipi ingest PATH...` does: explicit paths, nothing moved."""
    source = FileDrops(paths[0], paths=list(paths), move_done=False, **kw)
    return pipeline.ingest(store, account, source, TODAY)


def loaded_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    out = {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}
    out["partitions"] = store.query(
        "SELECT * EXCLUDE (loaded_at) FROM report_partition ORDER BY ALL")
    return out


def files_of(store: Store) -> dict[str, tuple[str, str]]:
    rows = store.query("SELECT original_name, date_source, default_marketplace "
                       "FROM ingested_file")
    return {r["original_name"]: (r["date_source"], r["default_marketplace"]) for r in rows}


def stranded_days(store: Store) -> list[tuple[str, date]]:
    return [(r["marketplace"], r["snapshot_date"]) for r in store.query(
        "SELECT DISTINCT marketplace, snapshot_date FROM stranded_inventory ORDER BY ALL")]


def test_given_zip_of_mixed_reports_in_nested_folders_when_ingested_then_same_rows_as_files(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """Every report in a zip loads exactly the rows the same files load from a folder, with
    the member's time as the day for those that name none; folders and junk are skipped."""
    archive = write_zip(tmp_path / "old downloads.zip", {
        "2026/": b"",
        "2026/march/planning/live-layout.tsv": PLANNING,
        "2026/march/myi/reference-header.tsv": MYI,
        "stranded/reference-header.tsv": STRANDED,  # the same base name as the MYI one
        "ledger/daily-by-country.tsv": LEDGER,
        "__MACOSX/2026/._live-layout.tsv": b"\x00\x05\x16\x07 resource fork",
        "2026/.DS_Store": b"Bud1",
    })
    run = ingest(fresh_db, account, archive)
    assert run.failed == [] and run.warnings == []
    assert sorted(str(r.path) for r in run.loaded) == [
        "old downloads.zip:2026/march/myi/reference-header.tsv",
        "old downloads.zip:2026/march/planning/live-layout.tsv",
        "old downloads.zip:ledger/daily-by-country.tsv",
        "old downloads.zip:stranded/reference-header.tsv",
    ]

    direct = Store(tmp_path / "direct" / "ipi.duckdb", data_dir=tmp_path / "direct")
    for path in (MYI, PLANNING, LEDGER, STRANDED):  # the zip's order: oldest, then by name
        load_file(direct, "acme", path, ingest_day=ZIPPED_DAY, default_marketplace="US")
    assert loaded_rows(fresh_db) == loaded_rows(direct)
    assert all(len(rows) for rows in loaded_rows(fresh_db).values())
    assert files_of(fresh_db) == {
        "live-layout.tsv": ("content", "US"),
        "daily-by-country.tsv": ("content", "US"),
        "reference-header.tsv": ("file time", "US"),  # MYI and stranded: the member's day
    }


def test_given_uk_folder_in_zip_when_ingested_then_its_reports_are_for_uk(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """A folder inside the archive named after one of the account's marketplaces says which
    marketplace its reports are for; elsewhere the account's first is assumed."""
    archive = write_zip(tmp_path / "backfill.zip", {
        "exports/UK/stranded.tsv": STRANDED,
        "exports/stranded.tsv": STRANDED.read_bytes() + b"\n",  # other bytes: another load
    })
    run = ingest(fresh_db, account, archive)
    assert run.failed == [] and len(run.loaded) == 2
    assert stranded_days(fresh_db) == [("UK", ZIPPED_DAY), ("US", ZIPPED_DAY)]


def test_given_members_without_dates_when_ingested_then_member_time_is_the_fallback(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """The snapshot date comes from the content, else the member's name, else the member's
    time ("file time"); a zip that recorded no time falls back to the day of ingestion."""
    archive = write_zip(tmp_path / "a.zip", {
        "Stranded 2026-02-14.txt": STRANDED,
        "stranded.txt": STRANDED.read_bytes() + b"\n",
        "plan.txt": PLANNING,
    })
    undated = write_zip(tmp_path / "b.zip", {"UK/stranded.txt": STRANDED},
                        when=(1980, 1, 1, 0, 0, 0))
    run = ingest(fresh_db, account, archive, undated)
    assert run.failed == [] and len(run.loaded) == 4
    by_name = {str(r.path): r.date_source for r in run.loaded}
    assert by_name == {"a.zip:Stranded 2026-02-14.txt": "file name",
                       "a.zip:stranded.txt": "file time",
                       "a.zip:plan.txt": "content",
                       "b.zip:UK/stranded.txt": "ingestion day"}
    assert stranded_days(fresh_db) == [("UK", TODAY), ("US", date(2026, 2, 14)),
                                       ("US", ZIPPED_DAY)]


def test_given_hostile_zip_then_nothing_written_outside_and_bad_members_reported(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """Names that climb out ('..', absolute, drive letters, backslashes) and links are refused
    with a reason, never written anywhere; the good member still loads."""
    link = zipfile.ZipInfo("link.tsv", ZIPPED)
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
    archive = write_zip(tmp_path / "in" / "hostile.zip", {
        "../evil.tsv": STRANDED,
        "/abs-ipi-test.tsv": STRANDED,
        "..\\win-evil.tsv": STRANDED,
        "C:/drive-evil.tsv": STRANDED,
        "ok/../../climb-evil.tsv": STRANDED,
        "good/myi.tsv": MYI,
    })
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    found = {m.name: type(m).__name__ for m in members(archive, workdir=work)}
    assert member_count(archive) == len(found)
    assert found == {"../evil.tsv": "Refused", "/abs-ipi-test.tsv": "Refused",
                     "..\\win-evil.tsv": "Refused", "C:/drive-evil.tsv": "Refused",
                     "ok/../../climb-evil.tsv": "Refused", "link.tsv": "Refused",
                     "good/myi.tsv": "Member"}
    # Nothing in work/, its parents, or beside the archive.
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not Path("/abs-ipi-test.tsv").exists()
    assert list(work.iterdir()) == []  # the private temporary folder is gone too

    run = ingest(fresh_db, account, archive)
    assert [str(r.path) for r in run.loaded] == ["hostile.zip:good/myi.tsv"]
    reasons = dict(run.failed)
    assert len(reasons) == 6 and "hostile.zip:../evil.tsv" in reasons
    assert "unsafe name" in reasons["hostile.zip:C:/drive-evil.tsv"]
    assert "symbolic link" in reasons["hostile.zip:link.tsv"]


def test_given_hostile_tar_then_links_devices_and_climbers_are_refused(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """In a tar, symlinks, hard links, devices and climbing names are refused with a reason;
    the regular files load."""
    archive = tmp_path / "hostile.tar"
    with tarfile.open(archive, "w") as tf:
        add_tar(tf, "../evil.tsv", STRANDED.read_bytes())
        add_tar(tf, "UK/link.tsv", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add_tar(tf, "UK/hard.tsv", kind=tarfile.LNKTYPE, link="UK/stranded.tsv")
        add_tar(tf, "UK/tty", kind=tarfile.CHRTYPE)
        add_tar(tf, "UK/stranded.tsv", STRANDED.read_bytes())
    assert member_count(archive) == 5
    run = ingest(fresh_db, account, archive)
    assert [str(r.path) for r in run.loaded] == ["hostile.tar:UK/stranded.tsv"]
    reasons = dict(run.failed)
    assert sorted(reasons) == ["hostile.tar:../evil.tsv", "hostile.tar:UK/hard.tsv",
                               "hostile.tar:UK/link.tsv", "hostile.tar:UK/tty"]
    assert "a link to '/etc/passwd'" in reasons["hostile.tar:UK/link.tsv"]
    assert "device or pipe" in reasons["hostile.tar:UK/tty"]
    assert stranded_days(fresh_db) == [("UK", ZIPPED_DAY)]
    assert [p for p in tmp_path.rglob("*evil*")] == []


def _bomb(path: Path) -> Path:
    """50 MB of zeros (~50 KB zipped, 1000:1) beside a real report."""
    return write_zip(path, {"bomb.tsv": bytes(50 << 20), "z/myi.tsv": MYI})


@pytest.mark.parametrize("declared", [None, 1000, 0xFFFF_FFF0],
                         ids=["honest", "claims-1kB", "claims-4GB"])
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_given_zip_bomb_then_refused_without_writing_past_the_limit(
        tmp_path: Path, declared: int | None) -> None:
    """A bomb is refused before more than the member limit is written, whatever size its
    headers declare, and the next member is still read. Proved by the OS: the reader runs
    with no file allowed past 2 MiB, against a 1 MiB limit."""
    archive = _bomb(tmp_path / "bomb.zip")
    if declared is not None:  # the uncompressed size fields of both headers lie
        patch_zip(archive, "bomb.tsv", local_at=22, central_at=24,
                  value=declared.to_bytes(4, "little"))
    script = textwrap.dedent("""
        import resource, signal, sys
        from pathlib import Path
        from ipi.sources.archive import Limits, members

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))
        for m in members(Path(sys.argv[1]), limits=Limits(member_bytes=1 << 20)):
            print(type(m).__name__, m.name, getattr(m, "reason", ""), sep="|")
    """)
    done = subprocess.run([sys.executable, "-c", script, str(archive)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (kind, name, reason), member = (line.split("|") for line in done.stdout.splitlines())
    assert (kind, name) == ("Refused", "bomb.tsv")
    assert ("limit for one file" in reason) if declared != 1000 else ("damaged" in reason)
    assert member[:2] == ["Member", "z/myi.tsv"]


def test_given_highly_compressed_member_then_refused_by_ratio(tmp_path: Path) -> None:
    """Under the size limits, a member expanding far more than a report (100:1) is refused
    once past ratio_after."""
    archive = _bomb(tmp_path / "bomb.zip")
    found = list(members(archive, limits=Limits(ratio_after=1 << 20)))
    assert isinstance(found[0], Refused) and "more than 100:1" in found[0].reason
    assert isinstance(found[1], Member)


def test_given_archive_past_its_total_limit_then_the_rest_is_not_read(tmp_path: Path) -> None:
    """Past the total limit, the member that crossed it and the rest are refused together."""
    report = MYI.read_bytes()
    archive = write_zip(tmp_path / "big.zip", {f"{i}.tsv": report for i in range(5)})
    found = list(members(archive, limits=Limits(total_bytes=int(len(report) * 2.5))))
    assert [type(m).__name__ for m in found] == ["Member", "Member", "Refused"]
    assert isinstance(found[2], Refused) and "the rest were not read" in found[2].reason


def test_given_encrypted_or_nested_members_then_refused_with_what_to_do(tmp_path: Path) -> None:
    """An encrypted member and an archive inside the archive are refused, each saying what
    to do; the rest is read."""
    inner = write_zip(tmp_path / "inner.zip", {"myi.tsv": MYI})
    archive = write_zip(tmp_path / "outer.zip", {
        "inner.zip": inner, "locked.tsv": MYI, "myi.tsv": MYI})
    patch_zip(archive, "locked.tsv", local_at=6, central_at=8, value=b"\x01")
    found = {m.name: m for m in members(archive)}
    assert isinstance(found["myi.tsv"], Member)
    assert isinstance(found["inner.zip"], Refused) and "extract it first" in \
        found["inner.zip"].reason
    assert isinstance(found["locked.tsv"], Refused) and "encrypted" in found["locked.tsv"].reason


def test_member_copies_exist_one_at_a_time_and_are_always_removed(tmp_path: Path) -> None:
    """Disk holds one member at a time; closing the iteration early, or an error in the
    caller, removes the temporary folder."""
    archive = write_zip(tmp_path / "a.zip", {"a/x.tsv": MYI, "b/x.tsv": STRANDED,
                                             "c.tsv": LEDGER})
    work = tmp_path / "work"
    work.mkdir()
    for m in members(archive, workdir=work):
        assert isinstance(m, Member) and m.path.exists()
        assert [p.name for p in work.rglob("*") if p.is_file()] == [m.path.name]
    assert list(work.iterdir()) == []

    items = members(archive, workdir=work)
    next(items)
    items.close()
    assert list(work.iterdir()) == []

    def fail_on_first() -> None:
        for _ in members(archive, workdir=work):
            raise RuntimeError("a load crashed")

    with pytest.raises(RuntimeError):
        fail_on_first()
    assert list(work.iterdir()) == []


def test_given_tar_gz_when_ingested_then_it_loads_like_a_zip(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """A tar.gz (and its folders, marketplace folder and member times) loads as a zip does."""
    archive = tmp_path / "history.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        add_tar(tf, "./history/", kind=tarfile.DIRTYPE)
        add_tar(tf, "./history/UK/stranded.tsv", STRANDED.read_bytes())
        add_tar(tf, "./history/myi.tsv", MYI.read_bytes(), when=date(2026, 3, 6))
        add_tar(tf, "./history/._myi.tsv", b"\x00\x05\x16\x07")
    assert archive_kind(archive) == "tar" and member_count(archive) == 2
    run = ingest(fresh_db, account, archive)
    assert run.failed == [] and sorted(str(r.path) for r in run.loaded) == [
        "history.tar.gz:history/UK/stranded.tsv", "history.tar.gz:history/myi.tsv"]
    assert stranded_days(fresh_db) == [("UK", ZIPPED_DAY)]
    assert fresh_db.query("SELECT DISTINCT marketplace, snapshot_date FROM fba_myi_inventory"
                          ) == [{"marketplace": "US", "snapshot_date": date(2026, 3, 6)}]


def test_given_damaged_tar_gz_then_members_before_the_damage_load(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """A tar.gz cut short reports the archive as damaged in the member it was reading;
    in a drop folder it moves to failed/ with the reason."""
    whole = tmp_path / "whole.tar.gz"
    with tarfile.open(whole, "w:gz") as tf:
        add_tar(tf, "myi.tsv", MYI.read_bytes())
        add_tar(tf, "noise.tsv", random.Random(7).randbytes(1 << 20))
    drop = tmp_path / "drop"
    drop.mkdir()
    cut = drop / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:-3000])
    run = pipeline.ingest(fresh_db, account, FileDrops(drop), TODAY)
    assert [str(r.path) for r in run.loaded] == ["cut.tar.gz:myi.tsv"]
    [(name, reason)] = run.failed
    assert name == "cut.tar.gz" and "damaged in 'noise.tsv'" in reason
    assert (drop / FAILED / "cut.tar.gz.reason.txt").exists()


def test_given_single_gzipped_report_then_it_is_a_report_not_an_archive(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """A .gz is one gzipped report: loaded as such; an xlsx (a zip inside) stays a
    spreadsheet the loader explains."""
    assert archive_kind(PLANNING_GZ) is None
    xlsx = write_zip(tmp_path / "stock.xlsx", {"[Content_Types].xml": b"<Types/>",
                                               "xl/worksheets/sheet1.xml": b"<x/>"})
    assert archive_kind(xlsx) is None
    run = ingest(fresh_db, account, PLANNING_GZ, xlsx)
    assert [r.path for r in run.loaded] == [PLANNING_GZ]
    assert run.loaded[0].report_type == "GET_FBA_INVENTORY_PLANNING_DATA"
    [(name, reason)] = run.failed
    assert name == "stock.xlsx" and "spreadsheet" in reason


def test_given_archive_ingested_when_ingested_again_then_every_member_is_skipped(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """Re-ingesting the same archive, on another day, loads nothing twice."""
    archive = write_zip(tmp_path / "a.zip", {"UK/s.tsv": STRANDED, "m.tsv": MYI,
                                             "p.tsv": PLANNING})
    first = ingest(fresh_db, account, archive)
    before = loaded_rows(fresh_db)
    again = pipeline.ingest(fresh_db, account, FileDrops(archive, paths=[archive],
                                                         move_done=False), date(2031, 5, 5))
    assert len(first.loaded) == 3 and again.loaded == [] and len(again.skipped) == 3
    assert loaded_rows(fresh_db) == before


def test_given_archive_in_drop_folder_then_it_moves_once_handled_and_bad_members_are_kept(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """In a drop folder the archive moves to processed/ after its members; a member that does
    not load is copied to failed/ with its reason and fails the run. With explicit paths
    (`ipi ingest`) the user's archive and folder are left as they were."""
    files = {"UK/stranded.tsv": STRANDED, "notes/readme.txt": b"not\ta report\n"}
    drop = tmp_path / "drop"
    write_zip(drop / "old.zip", files)
    run = pipeline.ingest(fresh_db, account, FileDrops(drop), TODAY)
    assert [str(r.path) for r in run.loaded] == ["old.zip:UK/stranded.tsv"]
    [(name, reason)] = run.failed
    assert name == "old.zip:notes/readme.txt"
    assert (drop / PROCESSED / "old.zip").exists() and not (drop / "old.zip").exists()
    assert (drop / FAILED / "readme.txt").read_bytes() == b"not\ta report\n"
    assert (drop / FAILED / "readme.txt.reason.txt").read_text().startswith(
        f"old.zip:notes/readme.txt: {reason}")

    mine = write_zip(tmp_path / "mine" / "old.zip", files)
    run = ingest(fresh_db, account, mine)
    assert [n for n, _ in run.failed] == ["old.zip:notes/readme.txt"]
    assert sorted(p.name for p in mine.parent.iterdir()) == ["old.zip"]


def test_given_empty_archive_then_a_warning_says_so(
        fresh_db: Store, account: Account, tmp_path: Path) -> None:
    """An archive with only folders and junk is a warning, not silence."""
    archive = write_zip(tmp_path / "empty.zip", {"2026/": b"", "__MACOSX/._x": b"x"})
    assert member_count(archive) == 0
    run = ingest(fresh_db, account, archive)
    assert run.failed == [] and [n for n, _ in run.warnings] == ["empty.zip"]


def test_cli_ingest_loads_an_archive(settings: tuple[Settings, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi ingest --account acme some.zip` loads its members and names each by archive and
    member; a refused member makes it exit 1 naming it."""
    config = settings[1]
    archive = write_zip(tmp_path / "some.zip", {"UK/stranded.tsv": STRANDED, "m.tsv": MYI})
    assert main(["ingest", "--account", "acme", str(archive), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "loaded  some.zip:UK/stranded.tsv: GET_STRANDED_INVENTORY_UI_DATA" in out
    assert "date from file time" in out and "rescored" in out
    assert stranded_days(account_store(settings[0], "acme")) == [("UK", ZIPPED_DAY)]

    hostile = write_zip(tmp_path / "hostile.zip", {"../evil.tsv": MYI})
    assert main(["ingest", "--account", "acme", str(hostile), "--config", str(config)]) == 1
    assert "hostile.zip:../evil.tsv: an unsafe name" in capsys.readouterr().err

