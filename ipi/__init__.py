"""ipi: watch an Amazon seller's Inventory Performance Index every day."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipi.api import Ipi

__version__ = "0.1.0"


def open(config: str | os.PathLike[str] | None = None) -> Ipi:
    """The library over a configuration's store: ``ipi.open("ipi.toml").scores()`` is a
    pandas DataFrame of the daily estimates. See ``ipi.api``."""
    from ipi.api import Ipi

    return Ipi.from_config(None if config is None else os.fspath(config))
