"""A file name or a SKU may be an attack on whoever reads ipi's words: the terminal, the
mail client, the chat, the markdown viewer. Each gets it as text."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.alerts.deliver import Notifier
from ipi.demo import Simulation, write_day
from ipi.page import markdown
from ipi.score.drivers import Driver
from ipi.settings import Settings
from ipi.sources.files import FileDrops
from tests.helpers import Mailbox, Webhook

# A drop file's name: live HTML in a mail client, a clear-screen and a retitle on a
# terminal, a NUL-free name the file system accepts.
HOSTILE = "<img src=x onerror=alert(1)>\x1b[2J\x1b]0;pwned\x07.csv"


def _parts(box: Mailbox) -> dict[str, str]:
    """Each received mail's parts by content type, decoded as a mail client decodes them."""
    out: dict[str, str] = {}
    for m in box.messages:
        msg = email.message_from_bytes(m.content, policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                out[part.get_content_type()] = out.get(part.get_content_type(), "") \
                    + str(part.get_content())
    return out


def test_a_hostile_file_name_reaches_mail_webhook_and_terminal_as_text(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        smtp_server: Mailbox, webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The file is set aside and ops is told, naming it: the mail goes as plain text, so
    the tag shows as typed, never as an image; no escape sequence reaches the mail, the
    webhook, the log or the terminal."""
    settings, config = make_settings(urls=[smtp_server.url, webhook_server.url])
    account = settings.accounts[0]
    drop = settings.drop_dir(account)
    write_day(demo_sim, 0, drop)
    (drop / HOSTILE).write_text("sku,units\nA,1\n")
    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          demo_sim.day(0))
    assert [name for name, _ in run.failed] == [HOSTILE]
    pipeline.alert(settings, account, demo_sim.day(0), run)

    mail = _parts(smtp_server)
    assert "onerror=alert(1)" in mail["text/plain"]  # sent as text, named
    assert "<img" not in mail.get("text/html", "")  # no part a mail client renders live
    sent = [str(m) for m in webhook_server.received]
    assert any("onerror=alert(1)" in s for s in sent)  # named, as text
    for text in (*mail.values(), *sent):
        assert "\x1b" not in text and "\x07" not in text

    (drop / "failed" / HOSTILE).rename(drop / HOSTILE)  # the same file, through the CLI
    assert main(["ingest", str(drop / HOSTILE), "--config", str(config)]) == 1
    out = capsys.readouterr()
    # What ipi printed (a handler another test left on a closed stream may add logging's
    # own complaint to stderr: not ipi's words)
    said = out.out + "".join(line for line in out.err.splitlines(keepends=True)
                             if line.startswith("ipi: "))
    assert "<img src=x onerror=alert(1)>.csv failed" in said  # named, escapes gone
    assert "\x1b" not in said and "\x07" not in said


def test_a_slack_target_gets_mentions_and_links_defused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What apprise posts to Slack: ``<!channel>`` and ``<url|text>`` from a SKU arrive
    escaped. (Slack's webhook host is not reachable here: apprise's HTTP post is caught,
    the one place this test stands in for the service.)"""
    import apprise.plugins.slack as slack_plugin

    posted: list[dict[str, Any]] = []

    class Answer:
        status_code, content, text, headers = 200, b"ok", "ok", {}

    def request(method: str, url: str, data: Any = None, **_: Any) -> Answer:
        posted.append({"url": url, "data": data})
        return Answer()

    monkeypatch.setattr(slack_plugin.requests, "request", request)
    notifier = Notifier(["slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops"])
    # What the outbox would hand it: the text already cleaned of control characters.
    notifier.send(notifier.targets[0], "IPI acme <!channel>",
                  "fix <!channel> and <http://evil.example|click here> now",
                  severity="critical", short="fix <!here> <http://evil.example|click>")
    body = str(posted[0]["data"])
    assert "<!channel>" not in body and "<!here>" not in body and "|click>" not in body
    assert "&lt;!here&gt;" in body and "&lt;!channel&gt;" in body and "\x1b" not in body


def test_the_markdown_report_shows_a_hostile_sku_as_text(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    """A SKU and a stranded reason with an image, a link and a ``|`` stay inside their
    cell of the report's markdown (the Prefect artifact), as text."""
    from ipi import page

    settings, _ = scored_demo
    account = settings.accounts[0]
    secs = page.sections(pipeline.open_store(settings, account), settings, account,
                         demo_sim.day(79))
    secs[0].drivers = [Driver("stranded", "![x](http://evil.example/p.png)|B", "ASIN",
                              "[click](http://evil.example)", 0.5,
                              "stranded: <b>Listing</b> | closed", "fix listing")]
    text = markdown(account, settings, secs, None)
    row = next(line for line in text.splitlines() if "evil.example/p.png" in line)
    assert row.count(" | ") == 5  # six cells: the SKU's | is escaped
    assert "![x](" not in text and "\\!\\[x\\]\\(" in row and "<b>" not in row
