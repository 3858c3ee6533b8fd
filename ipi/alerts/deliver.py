"""Delivery through apprise: one Apprise object per target, so each target's result is
known and a failed one is retried alone. Also the ``ipifile://`` target that appends
to a local file.

apprise's ``notify()`` returns a result whose truth is the success test. A target
is identified in the database by a hash of its whole URL as configured (path, channel
and query included: two files or two channels are two targets), never the URL: URLs
carry tokens.

A per-client target that cannot be used (its variable unset, its URL refused) is still
a target: the messages routed to it fail and stay queued, naming why, while every other
target gets its own; nothing else stops (``problem``).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

import apprise
from apprise.decorators import notify

from ipi.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from ipi.settings import Settings

log = logging.getLogger(__name__)
KINDS = frozenset({"inventory", "ops"})


@notify(on="ipifile", name="ipi local file")  # type: ignore[untyped-decorator, no-untyped-call]
def _file_target(body: str, title: str, notify_type: str, meta: dict[str, Any],
                 *args: Any, **kwargs: Any) -> bool:
    """``ipifile:///absolute/path.log``: append the message to a file (the demo's sink)."""
    path = Path("/" + str(meta["url"]).split("://", 1)[1].lstrip("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    with path.open("a", encoding="utf-8") as f:
        f.write(f"=== {stamp} [{notify_type}] {title}\n{body}\n\n")
    return True


# Chat services get the short text; email the HTML with the chart; the rest the full text.
_CHAT = {"Slack", "Discord", "Microsoft Teams", "Telegram", "Mattermost", "Rocket.Chat",
         "Google Chat", "Pushover", "ntfy", "Ntfy", "Signal API", "Matrix"}


# apprise's notify types by severity: they set the colour of Slack and the like.
NOTIFY_TYPES = {"critical": apprise.NotifyType.FAILURE, "ops": apprise.NotifyType.FAILURE,
                "warning": apprise.NotifyType.WARNING, "resolved": apprise.NotifyType.SUCCESS,
                "info": apprise.NotifyType.INFO}


@contextmanager
def _fields(server: Any, event: dict[str, Any]) -> Iterator[None]:
    """Add ``event``'s fields to a JSON webhook's body for one send. apprise's JSON target
    adds its ``payload_extras`` (the URL's ``:key=value`` arguments) to the body it posts;
    the URL's own extras win over ours."""
    own = dict(server.payload_extras)
    server.payload_extras = {**event, **own}
    try:
        yield
    finally:
        server.payload_extras = own


# A [[alerts.targets]] entry: url (None: unset), kinds, accounts, resolved, its variable.
TargetSpec = tuple[str | None, Iterable[str], Iterable[str], bool, str | None]

# The account of a message about a whole run (every account's ops target gets it).
ALL_ACCOUNTS = "*"


@dataclass(frozen=True)
class Target:
    id: str  # a hash of the URL
    name: str  # e.g. 'Slack #2'
    kinds: frozenset[str]  # inventory, ops
    accounts: frozenset[str]  # empty: every account
    apprise: apprise.Apprise = field(compare=False, repr=False)
    shape: str = "text"  # text | short | email | json
    resolved: bool = True  # gets resolved notices
    problem: str | None = None  # why it cannot be used now (its messages wait)
    # Earlier ids of the same target (the id of its unset variable, the id before whole
    # URLs were hashed): its queued deliveries are still its own.
    aliases: frozenset[str] = frozenset()

    def wants(self, account: str, kind: str, *, resolved: bool = False) -> bool:
        return (kind in self.kinds
                and (not self.accounts or account in self.accounts or account == ALL_ACCOUNTS)
                and (self.resolved or not resolved))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _env_id(name: str) -> str:
    return _digest(f"env:{name}")


def _target(server: Any, n: int, kinds: Iterable[str] = KINDS,
            accounts: Iterable[str] = (), resolved: bool = True, *, url: str | None = None,
            env: str | None = None) -> Target:
    one = apprise.Apprise()
    one.add(server)
    shape = ("email" if type(server).__name__ == "NotifyEmail"
             else "json" if type(server).__name__ == "NotifyJSON"
             else "short" if server.service_name in _CHAT else "text")
    aliases = {_digest(server.url()), *([_env_id(env)] if env else [])}
    digest = _digest(url or server.url(privacy=False))
    return Target(digest, f"{server.service_name} #{n}", frozenset(kinds), frozenset(accounts),
                  one, shape, resolved, None, frozenset(aliases - {digest}))


def _broken(n: int, problem: str, kinds: Iterable[str], accounts: Iterable[str],
            resolved: bool, env: str | None) -> Target:
    """A target that cannot be used now: its messages are queued to it and fail."""
    return Target(_env_id(env) if env else _digest(f"broken:{n}"), f"target #{n}",
                  frozenset(kinds), frozenset(accounts), apprise.Apprise(), "text", resolved,
                  problem)


class Notifier:
    """The configured targets, and delivery to one of them."""

    def __init__(self, urls: Iterable[str] = (), config_file: Path | None = None,
                 targets: Iterable[TargetSpec] = ()) -> None:
        """``urls`` go to every alert (one it cannot use is a ConfigError); ``targets``
        (``[[alerts.targets]]``) are (url or None, kinds, accounts, resolved, the variable
        the URL comes from): one it cannot use is kept with its problem."""
        self.targets: list[Target] = []
        for given in urls:
            self._add_url(given, KINDS, (), True)
        for url, kinds, accounts, resolved, env in targets:
            n = len(self.targets) + 1
            probe = apprise.Apprise()
            if url and probe.add(url):
                self.targets.append(_target(probe[0], n, kinds, accounts, resolved, url=url,
                                            env=env))
                continue
            why = (f"{env} is not set" if env and not url else
                   f"[[alerts.targets]] #{n} has no url" if not url else
                   f"{f'the URL in {env}' if env else 'its url'} is not a URL apprise "
                   "understands (check its scheme)")  # never the URL: it may hold a token
            log.debug("alert target #%d cannot be used: %s; its messages wait", n, why)
            self.targets.append(_broken(n, why, kinds, accounts, resolved, env))
        if config_file is not None:
            if not config_file.exists():
                raise ConfigError(f"alerts.apprise_config {config_file} does not exist")
            cfg = apprise.AppriseConfig()
            cfg.add(str(config_file))
            loaded = apprise.Apprise()
            loaded.add(cfg)
            for server in loaded:
                tags = set(server.tags)
                kinds = (tags & KINDS) or KINDS
                self.targets.append(_target(server, len(self.targets) + 1, kinds,
                                            tags - KINDS))

    def _add_url(self, url: str, kinds: Iterable[str], accounts: Iterable[str],
                 resolved: bool) -> None:
        probe = apprise.Apprise()
        n = len(self.targets) + 1
        if not probe.add(url):
            # Never echo the URL: it may carry a token.
            raise ConfigError(f"alert URL #{n} is not a URL apprise understands; check its "
                              "scheme (see https://github.com/caronc/apprise/wiki)")
        self.targets.append(_target(probe[0], n, kinds, accounts, resolved, url=url))

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        targets = [(t.url or (os.environ.get(t.url_env) if t.url_env else None), t.tags,
                    t.accounts, t.resolved, t.url_env) for t in settings.alerts.targets]
        return cls(settings.apprise_urls(), settings.alerts.apprise_config, targets)

    def __len__(self) -> int:
        return len(self.targets)

    def route(self, account: str, kind: str, *, resolved: bool = False) -> list[Target]:
        return [t for t in self.targets if t.wants(account, kind, resolved=resolved)]

    def get(self, target_id: str) -> Target | None:
        return next((t for t in self.targets if t.id == target_id), None) or next(
            (t for t in self.targets if target_id in t.aliases), None)

    def broken(self) -> list[Target]:
        """The targets that cannot be used now, each with its problem."""
        return [t for t in self.targets if t.problem]

    def without(self, target: Target) -> Notifier:
        """The same notifier without ``target`` and those that cannot be used: for the
        message that says ``target`` failed, which would only wait on them."""
        other = copy.copy(self)
        other.targets = [t for t in self.targets if t is not target and not t.problem]
        return other

    def send(self, target: Target, title: str, body: str, *, severity: str = "critical",
             short: str | None = None, html: str | None = None,
             chart: bytes | None = None, event: dict[str, Any] | None = None) -> None:
        """Deliver to one target, in its shape; raise DeliveryError unless it accepted.

        ``severity`` picks apprise's notify type (the colour in Slack and the like);
        ``event``'s fields go into a JSON webhook's body beside apprise's own."""
        kind = NOTIFY_TYPES[severity]
        if target.problem:
            raise DeliveryError(f"{target.name}: {target.problem}")
        try:
            if target.shape == "json" and event:
                with _fields(target.apprise[0], event):
                    ok = target.apprise.notify(title=title, body=body, notify_type=kind,
                                               body_format=apprise.NotifyFormat.TEXT)
                if not ok:
                    raise DeliveryError(f"{target.name} did not accept the message")
                return
            if target.shape == "email" and html:
                with TemporaryDirectory(prefix="ipi-") as tmp:
                    attach = None
                    if chart:
                        (Path(tmp) / "ipi-score.png").write_bytes(chart)
                        attach = apprise.AppriseAttachment(str(Path(tmp) / "ipi-score.png"))
                    ok = target.apprise.notify(title=title, body=html, notify_type=kind,
                                               body_format=apprise.NotifyFormat.HTML,
                                               attach=attach)
            else:
                text = short if target.shape == "short" and short else body
                # Said to be text, apprise sends it as text or escapes it for the target:
                # an email goes as text/plain, Slack gets <, > and & escaped (no
                # <!channel> ping, no <url|link>), markdown services their escapes.
                ok = target.apprise.notify(title=title, body=text, notify_type=kind,
                                           body_format=apprise.NotifyFormat.TEXT)
        except DeliveryError:
            raise
        except Exception as exc:  # a plugin bug must not lose the alert
            raise DeliveryError(f"{target.name}: apprise raised {type(exc).__name__}") from None
        if not ok:
            raise DeliveryError(f"{target.name} did not accept the message")
