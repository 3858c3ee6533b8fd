"""A drop folder may be an attack: links and special files are set aside unopened, and no
file's text reaches a message, a reason file or the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.sources.files import FileDrops
from tests.conftest import Webhook

SECRET = "IPI_LWA_CLIENT_SECRET=amzn1.oa2-cs.v1.do-not-leak"


def test_a_link_and_a_fifo_in_a_drop_folder_are_set_aside_unopened(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        webhook_server: Webhook, tmp_path: Path) -> None:
    """A link to a secrets file and a FIFO beside the day's reports: the reports load, the
    two are moved to failed/ with a reason and never read (the FIFO would hang the run),
    the secret file stays where it is, and its text is nowhere ipi writes or sends."""
    settings, _ = make_settings(urls=[webhook_server.url])
    account = settings.accounts[0]
    drop = settings.drop_dir(account)
    write_day(demo_sim, 0, drop)
    secrets = tmp_path / "home" / ".env"
    secrets.parent.mkdir()
    secrets.write_text(SECRET + "\n")
    (drop / "stranded-20260601.tsv").unlink()
    (drop / "stranded-20260601.tsv").symlink_to(secrets)
    os.mkfifo(drop / "myi-fifo.txt")
    (drop / "zero.txt").symlink_to("/dev/zero")

    run = pipeline.ingest(pipeline.open_store(settings), account, FileDrops(drop),
                          demo_sim.day(0))
    pipeline.alert(settings, account, demo_sim.day(0), run)

    reasons = dict(run.failed)
    assert reasons["stranded-20260601.tsv"].startswith("a link, not a file")
    assert reasons["zero.txt"].startswith("a link, not a file")
    assert reasons["myi-fifo.txt"].startswith("not a regular file")
    assert len(run.loaded) == 2  # the planning and MYI reports of the day
    assert secrets.read_text() == SECRET + "\n"  # the target itself: not moved, not touched
    assert (drop / "failed" / "stranded-20260601.tsv").is_symlink()
    written = "".join(p.read_text(errors="replace") for p in (drop / "failed").glob("*.txt")
                      if not p.is_symlink() and p.is_file())
    sent = "".join(str(m) for m in webhook_server.received)
    outbox = str(pipeline.open_store(settings).query("SELECT title, body FROM alert_outbox"))
    assert webhook_server.received  # ops heard of the set-aside files
    for text in (written, sent, outbox):
        assert "do-not-leak" not in text and "IPI_LWA_CLIENT_SECRET" not in text


def test_a_file_whose_first_line_is_a_secret_is_refused_without_quoting_it(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        webhook_server: Webhook) -> None:
    """A regular file that is no report (a copied .env) is refused naming the file and how
    many columns its first line has, never its text."""
    settings, _ = make_settings(urls=[webhook_server.url])
    account = settings.accounts[0]
    drop = settings.drop_dir(account)
    drop.mkdir(parents=True)
    (drop / "stranded-20260601.tsv").write_text(SECRET + "\tIPI_ACME_REFRESH_TOKEN=Atzr|x\n")
    run = pipeline.ingest(pipeline.open_store(settings), account, FileDrops(drop),
                          demo_sim.day(0))
    pipeline.alert(settings, account, demo_sim.day(0), run)
    [(name, why)] = run.failed
    assert name == "stranded-20260601.tsv"
    assert "its first line (2 column(s)) matches no report type" in why
    reason = (drop / "failed" / "stranded-20260601.tsv.reason.txt").read_text()
    for text in (why, reason, "".join(str(m) for m in webhook_server.received)):
        assert "do-not-leak" not in text and "Atzr" not in text
