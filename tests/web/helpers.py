"""Helpers the dashboard's tests share (no tests or fixtures here: those are in
conftest.py): a headless Chromium's pages, the docs' screenshots, the test's token."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCREENS = Path(__file__).parent / "screens"
TOKEN = "correct-horse-battery-staple-7f3a"  # a test's token, not a secret


@dataclass
class Browser:
    """One headless Chromium; ``page()`` opens a fresh context (no cache, no cookies)."""

    browser: Any

    def page(self, **options: Any) -> Any:
        options.setdefault("viewport", {"width": 1100, "height": 900})
        context = self.browser.new_context(accept_downloads=True, **options)
        page = context.new_page()
        page.errors = []  # what went wrong in the page: console errors, uncaught exceptions
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page


def screenshot(page: Any, name: str) -> None:
    """Save the whole page as tests/web/screens/<name>.png, for the docs: written beside
    it, then renamed, so that two runs at once (or two workers) never leave half a file."""
    SCREENS.mkdir(exist_ok=True)
    part = SCREENS / f".{name}.{os.getpid()}.png"
    page.screenshot(path=str(part), full_page=True)
    os.replace(part, SCREENS / f"{name}.png")
