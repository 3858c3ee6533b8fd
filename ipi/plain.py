"""Typed results as plain values, at the JSON edges (``--json``, the flows' artifacts):
the library hands dataclasses across its layers and only these edges need dicts.

A dataclass becomes a dict of its fields, in their order, each made plain in turn (a
``Span`` is ``{"low", "high"}``); one with its own ``record()`` is asked for that
instead, where the written shape differs from the fields (derived figures, renamed keys
that files and scripts already read). Dates stay dates: the writers format them.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def plain(value: object) -> Any:
    """``value`` with every dataclass in it turned into dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        record = getattr(value, "record", None)
        if callable(record):
            return plain(record())
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
