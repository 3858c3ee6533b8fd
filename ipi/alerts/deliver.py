"""Delivery through apprise, and the ``ipifile://`` target that appends to a local file.

apprise's ``notify()`` returns a result whose truth is the success test; an
Apprise object with no targets is a configuration problem, not a failure to
retry.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apprise
from apprise.decorators import notify

from ipi.errors import ConfigError, DeliveryError

log = logging.getLogger(__name__)


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


class Notifier:
    """The configured apprise targets."""

    def __init__(self, urls: list[str], config_file: Path | None = None) -> None:
        self._apprise = apprise.Apprise()
        for i, url in enumerate(urls, 1):
            if not self._apprise.add(url):
                # Never echo the URL: it may carry a token.
                raise ConfigError(
                    f"alert URL #{i} is not a URL apprise understands; check its scheme "
                    "(see https://github.com/caronc/apprise/wiki)"
                )
        if config_file is not None:
            if not config_file.exists():
                raise ConfigError(f"alerts.apprise_config {config_file} does not exist")
            cfg = apprise.AppriseConfig()
            cfg.add(str(config_file))
            self._apprise.add(cfg)

    def __len__(self) -> int:
        return len(self._apprise)

    def send(self, title: str, body: str, *, failure: bool = True) -> None:
        """Deliver to every target; raise DeliveryError unless all accepted it."""
        if len(self._apprise) == 0:
            raise ConfigError("no alert targets: set alerts.urls, alerts.apprise_config "
                              "or IPI_APPRISE_URLS")
        try:
            ok = self._apprise.notify(title=title, body=body,
                                      notify_type=apprise.NotifyType.FAILURE
                                      if failure else apprise.NotifyType.SUCCESS)
        except Exception as exc:  # a plugin bug must not lose the alert
            raise DeliveryError(f"apprise raised {type(exc).__name__}") from None
        if not ok:
            raise DeliveryError("at least one alert target did not accept the message")
