"""A drop folder may be an attack: links and special files are set aside unopened, and no
file's text reaches a message, a reason file or the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.sources.files import FileDrops
from tests.helpers import Webhook

SECRET = "IPI_LWA_CLIENT_SECRET=amzn1.oa2-cs.v1.do-not-leak"


def test_a_link_and_a_fifo_in_a_drop_folder_are_set_aside_unopened(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        webhook_server: Webhook, tmp_path: Path) -> None:
    """A link to a secrets file and a FIFO beside the day's reports: the reports load; the
    two are never read (the FIFO would hang the run) nor moved, a reason file beside each
    says why, ops is told once; the secret file stays where it is, and its text is nowhere
    ipi writes or sends."""
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

    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          demo_sim.day(0))
    pipeline.alert(settings, account, demo_sim.day(0), run)

    reasons = dict(run.failed)
    assert reasons["stranded-20260601.tsv"].startswith("a link, not a file")
    assert reasons["zero.txt"].startswith("a link, not a file")
    assert reasons["myi-fifo.txt"].startswith("not a regular file")
    assert len(run.loaded) == 2  # the planning and MYI reports of the day
    assert secrets.read_text() == SECRET + "\n"  # the target itself: not moved, not touched
    assert (drop / "stranded-20260601.tsv").is_symlink() and not (drop / "failed").exists()
    assert (drop / "myi-fifo.txt").exists()
    written = "".join(p.read_text(errors="replace") for p in drop.glob("*.reason.txt"))
    assert "a link, not a file" in written
    sent = "".join(str(m) for m in webhook_server.received)
    outbox = str(pipeline.open_store(settings, account).query(
        "SELECT title, body FROM alert_outbox"))
    assert webhook_server.received  # ops heard of the set-aside files
    for text in (written, sent, outbox):
        assert "do-not-leak" not in text and "IPI_LWA_CLIENT_SECRET" not in text
    # The next run: the same three are left alone, and nobody is told again.
    again = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                            demo_sim.day(0))
    assert again.failed == []


def test_a_file_of_another_user_is_neither_read_nor_moved(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """A report in the drop folder that belongs to another user than the folder's owner
    (here: nobody, uid 65534) is left as it is, with a reason; the owner's files load."""
    settings, _ = make_settings()
    account = settings.accounts[0]
    drop = settings.drop_dir(account)
    write_day(demo_sim, 0, drop)
    theirs = drop / "stranded-20260601.tsv"
    os.chown(theirs, 65534, 65534)
    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          demo_sim.day(0))
    assert dict(run.failed)["stranded-20260601.tsv"].startswith("owned by another user")
    assert theirs.exists() and len(run.loaded) == 2


@pytest.mark.parametrize("folder", ["/etc", "/", "/usr/share", "~", "/home"])
def test_a_system_or_home_folder_is_refused_as_a_drop_folder(
        folder: str, make_settings: Callable[..., tuple[Settings, Path]],
        demo_sim: Simulation) -> None:
    """A drop folder pointed at /etc, the root, the home folder or the folder above it:
    refused in one line naming it, before a single file is looked at or moved."""
    path = Path(folder).expanduser()
    settings, _ = make_settings(accounts=f'[[accounts]]\nname = "acme"\n'
                                         f'drop_dir = "{path}"\n')
    before = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    with pytest.raises(ConfigError, match="needs one of its own") as err:
        pipeline.ingest(pipeline.open_store(settings, "acme"), settings.accounts[0],
                        FileDrops(settings.drop_dir(settings.accounts[0])), demo_sim.day(0))
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert (sorted(p.name for p in path.iterdir()) if path.is_dir() else []) == before


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
    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          demo_sim.day(0))
    pipeline.alert(settings, account, demo_sim.day(0), run)
    [(name, why)] = run.failed
    assert name == "stranded-20260601.tsv"
    assert "its first line (2 column(s)) matches no report type" in why
    reason = (drop / "failed" / "stranded-20260601.tsv.reason.txt").read_text()
    for text in (why, reason, "".join(str(m) for m in webhook_server.received)):
        assert "do-not-leak" not in text and "Atzr" not in text


def test_ipi_check_says_a_drop_folder_is_not_one_of_its_own(
        make_settings: Callable[..., tuple[Settings, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    _, config = make_settings(accounts='[[accounts]]\nname = "acme"\ndrop_dir = "/etc"\n')
    assert main(["check", "--config", str(config)]) == 1
    assert "the drop folder /etc is a system folder" in capsys.readouterr().out
