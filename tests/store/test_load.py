"""Loads: idempotent, atomic, content-addressed raw bytes, snapshot dates."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ipi.demo import Simulation, write_day
from ipi.errors import BadValue
from ipi.store import Store
from ipi.store.load import date_from_name, load_file
from ipi.store.migrations import MIGRATIONS

PLAN = "GET_FBA_INVENTORY_PLANNING_DATA"
STRANDED_HEADER = ("primary-action\tdate-stranded\tstranded-reason\tasin\tsku\t"
                   "fulfillable-qty\n")
PLAN_HEADER = ("snapshot-date\tsku\tasin\tavailable\tunits-shipped-t60\t"
               "units-shipped-t90\testimated-excess-quantity\tmarketplace\n")
# 07:30 UTC on 30 November: still the 29th in Los Angeles (tomorrow there is the 30th),
# already 16:30 on the 30th in Tokyo (tomorrow there is 1 December).
NOW = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)


def plan_file(folder: Path, day: str, marketplace: str = "US", available: int = 10,
              name: str | None = None) -> Path:
    """A small planning report: two SKUs of ``available`` units each, dated ``day``."""
    path = folder / (name or f"plan-{marketplace}-{day}-{available}.txt")
    path.write_text(PLAN_HEADER + "".join(
        f"{day}\tS{i}\tB0{i}\t{available}\t3\t4\t0\t{marketplace}\n" for i in (1, 2)))
    return path


def snapshot(store: Store) -> dict[str, list[dict]]:
    """Everything a load can touch, minus load timestamps."""
    return {
        "planning": store.query("SELECT * EXCLUDE (sha256) FROM fba_inventory_planning "
                                "ORDER BY snapshot_date, sku"),
        "myi": store.query("SELECT * FROM fba_myi_inventory ORDER BY snapshot_date, sku"),
        "stranded": store.query("SELECT * FROM stranded_inventory ORDER BY snapshot_date, sku"),
        "partitions": store.query("SELECT * EXCLUDE (loaded_at) FROM report_partition "
                                  "ORDER BY ALL"),
        "files": store.query("SELECT * EXCLUDE (ingested_at) FROM ingested_file ORDER BY ALL"),
    }


def load_day(store: Store, sim: Simulation, i: int, folder: Path) -> list[Path]:
    paths = write_day(sim, i, folder / str(i))
    for p in paths:
        load_file(store, "acme", p, ingest_day=sim.day(i), default_marketplace="US")
    return paths


def test_migrations_are_recorded_once(fresh_db: Store) -> None:
    """The schema is created by named migrations, recorded, and not applied twice."""
    assert fresh_db.migrate() == [name for name, _ in MIGRATIONS]
    assert fresh_db.migrate() == []
    names = [r["name"] for r in fresh_db.query("SELECT name FROM ipi_migration ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_given_loaded_day_when_same_files_dropped_again_then_nothing_changes(
        fresh_db: Store, demo_sim: Simulation, tmp_path: Path) -> None:
    """Dropping the same files twice skips them and leaves every table as it was."""
    paths = load_day(fresh_db, demo_sim, 5, tmp_path)
    before = snapshot(fresh_db)
    results = [load_file(fresh_db, "acme", p, ingest_day=date(2030, 1, 1),
                         default_marketplace="US") for p in paths]
    assert all(r.skipped for r in results)
    assert snapshot(fresh_db) == before


def test_given_loaded_day_when_corrected_file_arrives_then_day_is_replaced(
        fresh_db: Store, demo_sim: Simulation, tmp_path: Path) -> None:
    """A new download for a day already loaded replaces that day's rows, not adds to them."""
    load_day(fresh_db, demo_sim, 5, tmp_path)
    plan = next((tmp_path / "5").glob("5*.txt"))
    lines = plan.read_text().splitlines()
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("\n".join(lines[:3]) + "\n")  # header + 2 SKUs
    load_file(fresh_db, "acme", fixed, ingest_day=date(2030, 1, 1), default_marketplace="US")
    rows = fresh_db.query("SELECT sku FROM fba_inventory_planning WHERE snapshot_date = $day "
                          "ORDER BY sku", {"day": demo_sim.day(5)})
    assert [r["sku"] for r in rows] == sorted(line.split("\t")[1] for line in lines[1:3])
    part = fresh_db.query("SELECT rows FROM report_partition WHERE report_type = $report_type",
                          {"report_type": PLAN})
    assert part == [{"rows": 2}]


def test_raw_bytes_are_kept_by_sha256(fresh_db: Store, demo_sim: Simulation,
                                      tmp_path: Path) -> None:
    """Every ingested file's original bytes sit in the landing zone under their sha256."""
    paths = load_day(fresh_db, demo_sim, 3, tmp_path)
    raw = fresh_db.query("SELECT sha256, landing_path, size_bytes FROM raw_file ORDER BY ALL")
    assert len(raw) == 3
    by_sha = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in paths}
    for r in raw:
        kept = fresh_db.data_dir / r["landing_path"]
        assert kept.read_bytes() == by_sha[r["sha256"]].read_bytes()
        assert r["size_bytes"] == kept.stat().st_size


def test_snapshot_date_from_content_then_file_name_then_ingestion_day(
        fresh_db: Store, tmp_path: Path) -> None:
    """The date comes from the content, else the file name, else the day of ingestion."""
    a = tmp_path / "stranded_2026-03-04.txt"
    b = tmp_path / "stranded.txt"
    a.write_text(STRANDED_HEADER + "Relist\t2026-02-01\tListing closed\tB01\tS1\t5\n")
    b.write_text(STRANDED_HEADER + "Relist\t2026-02-01\tListing closed\tB01\tS1\t7\n")
    ra = load_file(fresh_db, "acme", a, ingest_day=date(2026, 5, 5), default_marketplace="US")
    rb = load_file(fresh_db, "acme", b, ingest_day=date(2026, 5, 5), default_marketplace="US")
    assert (ra.date_source, ra.partitions) == ("file name", [("US", date(2026, 3, 4))])
    assert (rb.date_source, rb.partitions) == ("ingestion day", [("US", date(2026, 5, 5))])
    plan = tmp_path / "plan_2020-01-01.txt"  # content wins over the name
    plan.write_text("snapshot-date\tsku\tasin\tavailable\tunits-shipped-t60\t"
                    "units-shipped-t90\testimated-excess-quantity\tmarketplace\n"
                    "2026-04-02\tS1\tB01\t10\t3\t4\t0\tUS\n")
    rp = load_file(fresh_db, "acme", plan, ingest_day=date(2026, 5, 5), default_marketplace="US")
    assert (rp.date_source, rp.partitions) == ("content", [("US", date(2026, 4, 2))])


def test_given_identical_header_only_reports_on_two_days_then_both_days_load(
        fresh_db: Store, tmp_path: Path) -> None:
    """Byte-identical files for different days (an empty stranded report) are two loads."""
    for d in ("2026-03-04", "2026-03-05"):
        (tmp_path / f"stranded-{d}.txt").write_text(STRANDED_HEADER)
        r = load_file(fresh_db, "acme", tmp_path / f"stranded-{d}.txt",
                      ingest_day=date(2026, 5, 5), default_marketplace="US")
        assert not r.skipped
    days = fresh_db.query("SELECT snapshot_date, rows FROM report_partition ORDER BY ALL")
    assert days == [{"snapshot_date": date(2026, 3, 4), "rows": 0},
                    {"snapshot_date": date(2026, 3, 5), "rows": 0}]


@pytest.mark.parametrize("name, expected", [
    ("stranded-20261009.tsv", date(2026, 10, 9)),
    ("Inventory_2026-10-09.txt", date(2026, 10, 9)),
    ("report_2026_10_09_v2.txt", date(2026, 10, 9)),
    ("50000000123.txt", None),
    ("2026-13-40.txt", None),
])
def test_date_from_name(name: str, expected: date | None) -> None:
    """Dates in file names are read in ISO order with -, _, . or nothing between parts."""
    assert date_from_name(name) == expected


KILLER = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    from ipi.store import Store
    from ipi.store.load import load_file
    store = Store(Path(sys.argv[1]), data_dir=Path(sys.argv[2]))
    print("start", flush=True)
    load_file(store, "acme", Path(sys.argv[3]), ingest_day=date(2026, 1, 1),
              default_marketplace="US")
    print("done", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2])
def test_given_load_killed_midway_then_previous_state_is_intact(
        tmp_path: Path, delay: float) -> None:
    """SIGKILL during a big load leaves the day either as it was or fully replaced."""
    data = tmp_path / "data"
    store = Store(data / "ipi.duckdb", data_dir=data)
    header = ("snapshot-date\tsku\tasin\tavailable\tunits-shipped-t60\tunits-shipped-t90\t"
              "estimated-excess-quantity\tmarketplace\n")
    small = tmp_path / "small.txt"
    small.write_text(header + "".join(f"2026-01-01\tOLD-{i}\tB{i}\t1\t1\t1\t0\tUS\n"
                                      for i in range(5)))
    load_file(store, "acme", small, ingest_day=date(2026, 1, 1), default_marketplace="US")
    big = tmp_path / "big.txt"
    with big.open("w") as f:
        f.write(header)
        for i in range(300_000):
            f.write(f"2026-01-01\tNEW-{i}\tB{i}\t{i % 50}\t3\t4\t{i % 7}\tUS\n")
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(data / "ipi.duckdb"), str(data),
                             str(big)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = Store(data / "ipi.duckdb", data_dir=data)
    skus = after.query("SELECT count(*) AS n, min(sku) AS lo FROM fba_inventory_planning")[0]
    part = after.query("SELECT rows FROM report_partition")
    assert (skus["n"], skus["lo"], part) in [
        (5, "OLD-0", [{"rows": 5}]),  # killed before the commit: as before
        (300_000, "NEW-0", [{"rows": 300_000}]),  # killed after it: fully replaced
    ]


def test_a_ledger_file_spanning_days_loads_one_partition_per_day(fresh_db: Store) -> None:
    """The ledger summary has a date per row: each day is its own partition, dated from the
    content, under the file's marketplace."""
    path = (Path(__file__).resolve().parents[1] / "data" / "reports"
            / "GET_LEDGER_SUMMARY_VIEW_DATA" / "daily-by-country.tsv")
    result = load_file(fresh_db, "acme", path, ingest_day=date(2026, 11, 27),
                       default_marketplace="US")
    assert result.date_source == "content"
    assert result.partitions == [("US", date(2026, 11, 1)), ("US", date(2026, 11, 2))]
    rows = fresh_db.query("SELECT snapshot_date, sum(ending_warehouse_balance) AS end, "
                          "sum(customer_shipments) AS shipped FROM ledger_summary "
                          "GROUP BY ALL ORDER BY 1")
    assert rows == [{"snapshot_date": date(2026, 11, 1), "end": 125, "shipped": -6},
                    {"snapshot_date": date(2026, 11, 2), "end": 165, "shipped": -9}]


def test_a_bulk_session_checkpoints_once_at_the_end(fresh_db: Store, demo_sim: Simulation,
                                                    tmp_path: Path) -> None:
    """In bulk the write-ahead log is not folded into the database after each load (a
    backfill's thousands of loads would rewrite the tables every few files) but once,
    when the session ends; the threshold is back to DuckDB's default after."""
    wal = fresh_db.path.with_name(fresh_db.path.name + ".wal")
    with fresh_db.session(bulk=True):
        for i in range(3):
            for path in write_day(demo_sim, i, tmp_path / str(i)):
                load_file(fresh_db, "acme", path, ingest_day=demo_sim.day(i),
                          default_marketplace="US")
        assert wal.exists() and wal.stat().st_size > 0
        assert fresh_db.query("SELECT current_setting('checkpoint_threshold') AS t")[0]["t"] \
            == "1.0 GiB"
    assert not wal.exists() or wal.stat().st_size == 0
    assert fresh_db.query("SELECT count(DISTINCT snapshot_date) AS n FROM fba_myi_inventory"
                          )[0]["n"] == 3
    assert fresh_db.query("SELECT current_setting('checkpoint_threshold') AS t")[0]["t"] \
        != "1.0 GiB"


@pytest.mark.parametrize(("name", "content_day", "said"), [
    ("plan.txt", "2099-01-01", "snapshot-date 2099-01-01 is after tomorrow (2026-11-30 in "
     "America/Los_Angeles): check the file's dates or the machine's clock"),
    ("stranded-2099-01-01.txt", None, "the date in its name, 2099-01-01, is after tomorrow "
     "(2026-11-30 in America/Los_Angeles): check the file's name or the machine's clock"),
])
def test_given_snapshot_dated_after_tomorrow_when_loaded_then_refused_and_nothing_written(
        fresh_db: Store, tmp_path: Path, name: str, content_day: str | None,
        said: str) -> None:
    """A snapshot dated 2099 (in the content or the name) is refused with the date, the
    marketplace's tomorrow and the fix; no table, register or landed byte changes."""
    if content_day:
        path = plan_file(tmp_path, content_day, name=name)
    else:
        path = tmp_path / name
        path.write_text(STRANDED_HEADER + "Relist\t2026-02-01\tListing closed\tB01\tS1\t5\n")
    with pytest.raises(BadValue) as info:
        load_file(fresh_db, "acme", path, ingest_day=date(2026, 11, 29),
                  default_marketplace="US", now=NOW)
    assert str(info.value) == f"{path}: {said}"
    assert snapshot(fresh_db) == {k: [] for k in snapshot(fresh_db)}
    assert fresh_db.query("SELECT * FROM raw_file") == []
    assert not (fresh_db.data_dir / "raw").exists()


def test_given_snapshot_dated_tomorrow_in_its_marketplace_zone_then_it_loads(
        fresh_db: Store, tmp_path: Path) -> None:
    """Tomorrow is the marketplace's: at 07:30 UTC on 30 November a US file of the 30th and
    a JP file of 1 December load, a US file of 1 December (tomorrow in UTC) does not."""
    for mp, day in (("US", "2026-11-30"), ("JP", "2026-12-01")):
        result = load_file(fresh_db, "acme", plan_file(tmp_path, day, mp),
                           ingest_day=date(2026, 11, 29), default_marketplace="US", now=NOW)
        assert result.partitions == [(mp, date.fromisoformat(day))]
    with pytest.raises(BadValue, match=r"snapshot-date 2026-12-01 is after tomorrow "
                       r"\(2026-11-30 in America/Los_Angeles\)"):
        load_file(fresh_db, "acme", plan_file(tmp_path, "2026-12-01"),
                  ingest_day=date(2026, 11, 29), default_marketplace="US", now=NOW)
    assert fresh_db.query("SELECT marketplace, snapshot_date FROM report_partition "
                          "ORDER BY ALL") == [
        {"marketplace": "JP", "snapshot_date": date(2026, 12, 1)},
        {"marketplace": "US", "snapshot_date": date(2026, 11, 30)}]


@pytest.mark.parametrize(("before", "after", "warning"), [
    (60, 600, "US GET_FBA_INVENTORY_PLANNING_DATA on 2026-11-28: 1,200 units on hand, "
              "10.0 times the 120 on 2026-11-27; loaded, but check that the file is this "
              "account's and complete (`ipi forget --account acme --date 2026-11-28 "
              "--marketplace US --report-type GET_FBA_INVENTORY_PLANNING_DATA` takes it out)"),
    (600, 60, "US GET_FBA_INVENTORY_PLANNING_DATA on 2026-11-28: 120 units on hand, down "
              "from 1,200 on 2026-11-27; loaded, but check that the file is this account's "
              "and complete (`ipi forget --account acme --date 2026-11-28 --marketplace US "
              "--report-type GET_FBA_INVENTORY_PLANNING_DATA` takes it out)"),
    (60, 599, None),  # 9.98 times
    (4, 40, None),  # tenfold, but 8 units to 80: a small catalogue restocked
])
def test_given_units_on_hand_jump_tenfold_when_loaded_then_loads_with_a_warning(
        fresh_db: Store, tmp_path: Path, before: int, after: int,
        warning: str | None) -> None:
    """Ten times the previous day's units on hand (or a tenth of them) loads, with a
    warning naming both days' units; smaller moves, or a few units, load quietly."""
    first = load_file(fresh_db, "acme", plan_file(tmp_path, "2026-11-27", available=before),
                      ingest_day=date(2026, 11, 29), default_marketplace="US")
    assert first.warnings == []  # nothing to compare with
    result = load_file(fresh_db, "acme", plan_file(tmp_path, "2026-11-28", available=after),
                       ingest_day=date(2026, 11, 29), default_marketplace="US")
    assert result.warnings == ([warning] if warning else [])
    assert fresh_db.query("SELECT sum(available) AS n FROM fba_inventory_planning "
                          "WHERE snapshot_date = '2026-11-28'") == [{"n": 2 * after}]


def _read_through_stage(caplog: pytest.LogCaptureFixture) -> bool:
    return any("read through the stage" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_plain_utf8_or_gzip_report_loads_in_one_direct_read(
        fresh_db: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        compress: bool) -> None:
    """The common case: DuckDB reads the file as it is (gzip included), typed and checked
    in the insert itself; no stage, no second read."""
    import gzip

    path = plan_file(tmp_path, "2026-03-02", name="plan.txt")
    if compress:
        path = path.with_name("plan.bin")  # gzip is told by its bytes, not the name
        path.write_bytes(gzip.compress((tmp_path / "plan.txt").read_bytes()))
    caplog.set_level("DEBUG", logger="ipi.store.load")
    result = load_file(fresh_db, "acme", path, ingest_day=date(2026, 3, 2),
                       default_marketplace="US", now=NOW)
    assert not _read_through_stage(caplog)
    assert (result.rows, result.date_source) == (2, "content")
    assert fresh_db.query("SELECT sku, available, sha256 FROM fba_inventory_planning "
                          "ORDER BY sku") == [
        {"sku": s, "available": 10, "sha256": result.sha256} for s in ("S1", "S2")]
    assert fresh_db.query("SELECT charset, marketplace_source FROM ingested_file") == [
        {"charset": "utf-8", "marketplace_source": "content"}]


def test_a_cp1252_byte_in_a_column_ipi_does_not_use_still_makes_the_file_cp1252(
        fresh_db: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The charset is the whole file's: DuckDB's direct read checks every field, used or
    not, and a file it refuses is read again through the stage, which decides."""
    path = tmp_path / "plan.txt"
    path.write_bytes((PLAN_HEADER.rstrip("\n") + "\tnote\n").encode() +
                     b"2026-03-02\tS1\tB01\t10\t3\t4\t0\tUS\tcaf\xe9\n")
    caplog.set_level("DEBUG", logger="ipi.store.load")
    result = load_file(fresh_db, "acme", path, ingest_day=date(2026, 3, 2),
                       default_marketplace="US", now=NOW)
    assert _read_through_stage(caplog)
    assert result.rows == 1
    assert fresh_db.query("SELECT charset FROM ingested_file") == [{"charset": "cp1252"}]


def test_a_value_the_direct_read_refuses_is_named_as_before(
        fresh_db: Store, tmp_path: Path) -> None:
    """A bad value fails the direct read; the stage then names its line, and nothing of
    the file is written."""
    path = tmp_path / "plan.txt"
    path.write_text(PLAN_HEADER + "2026-03-02\tS1\tB01\t10\t3\t4\t0\tUS\n"
                    "2026-03-02\tS2\tB02\t-4\t3\t4\t0\tUS\n")
    with pytest.raises(BadValue, match=r"line 3 has a negative value"):
        load_file(fresh_db, "acme", path, ingest_day=date(2026, 3, 2),
                  default_marketplace="US", now=NOW)
    assert fresh_db.query("SELECT count(*) AS n FROM fba_inventory_planning") == [{"n": 0}]
    assert fresh_db.query("SELECT count(*) AS n FROM ingested_file") == [{"n": 0}]


def test_the_same_bytes_for_another_default_day_replace_only_their_partitions(
        fresh_db: Store, tmp_path: Path) -> None:
    """New rows are told from old ones by a marker, not by their sha256: the same bytes
    loaded for another day leave the first day's rows alone."""
    path = tmp_path / "stranded.txt"
    path.write_text(STRANDED_HEADER + "Fix\t2026-03-01\tNo listing\tB01\tS1\t3\n")
    for day in (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)):
        load_file(fresh_db, "acme", path, ingest_day=day, default_marketplace="US", now=NOW)
    assert fresh_db.query("SELECT snapshot_date, sku FROM stranded_inventory "
                          "ORDER BY ALL") == [
        {"snapshot_date": date(2026, 3, 1), "sku": "S1"},
        {"snapshot_date": date(2026, 3, 2), "sku": "S1"}]
    assert fresh_db.query("SELECT count(*) AS n FROM stranded_inventory "
                          "WHERE sha256 LIKE '~%'") == [{"n": 0}]


def test_a_load_plans_from_the_header_alone_and_reads_what_the_stage_reads(
        tmp_path: Path) -> None:
    """``plan_direct`` (run before the load's transaction) needs no connection: from the
    header it gives the SELECT a load inserts from, which reads the rows the stage reads;
    a file it cannot read as it is gets None, and goes through the stage."""
    import duckdb

    from ipi.reports import STAGE, detect, plan_direct, stage

    golden = Path(__file__).resolve().parents[1] / "data" / "reports" / PLAN
    day = date(2026, 3, 14)
    for name in ("live-layout.tsv", "gzip.tsv.gz"):
        planned = plan_direct(detect, golden / name, default_date=day,
                              default_marketplace="US")
        assert planned is not None and planned.direct and planned.spec.report_type == PLAN
        con = duckdb.connect()
        direct = con.execute(f"SELECT * FROM {planned.source}", planned.params).fetchall()
        stage(con, detect, golden / name, default_date=day, default_marketplace="US")
        assert direct and direct == con.execute(f"SELECT * FROM {STAGE}").fetchall()
    sheet, unknown = tmp_path / "sheet.tsv", tmp_path / "unknown.tsv"
    sheet.write_bytes(b"PK\x03\x04 a spreadsheet")
    unknown.write_text("colour\tsize\nred\t2\n", encoding="utf-8")
    for path, charset in ((golden / "live-layout.tsv", "cp1252"), (sheet, None),
                          (unknown, None)):
        assert plan_direct(detect, path, default_date=day, default_marketplace="US",
                           declared_charset=charset) is None
