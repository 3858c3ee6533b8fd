"""ipi: watch an Amazon seller's Inventory Performance Index every day."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipi.api import Ipi

__version__ = "0.1.0"


def _text_records() -> None:
    """Every log record of ipi's own loggers carries its message and traceback as text
    (``ipi.safe``): file names and SKUs in them cannot put an escape sequence in a
    terminal or a log viewer, whichever handler (ipi's, Prefect's, a service manager's)
    writes it."""
    import contextlib
    import logging

    from ipi.safe import text

    make = logging.getLogRecordFactory()
    if getattr(make, "ipi_text", False):
        return

    def record(*args: object, **kwargs: object) -> logging.LogRecord:
        r = make(*args, **kwargs)
        if r.name == "ipi" or r.name.startswith("ipi."):
            # a malformed call stays as it was: logging's own handler reports it
            with contextlib.suppress(Exception):
                r.msg, r.args = text(r.getMessage()), ()
                if r.exc_info and r.exc_info[0] is not None:  # -v: the traceback's text too
                    r.exc_text = text(logging.Formatter().formatException(r.exc_info))
        return r

    record.ipi_text = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)


_text_records()


def open(config: str | os.PathLike[str] | None = None) -> Ipi:
    """The library over a configuration's store: ``ipi.open("ipi.toml").scores()`` is a
    pandas DataFrame of the daily estimates. See ``ipi.api``."""
    from ipi.api import Ipi

    return Ipi.from_config(None if config is None else os.fspath(config))
