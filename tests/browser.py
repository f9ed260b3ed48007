"""A real headless browser for the UI tests: Debian's chromium driven by Playwright.

Playwright never downloads a browser here (`executable_path` points at the system one). When
no browser can be started the tests are skipped with the reason, loudly (a warning as well as
the skip), never silently.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("AGENTRACER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _skip(reason: str) -> None:
    message = f"BROWSER TESTS SKIPPED: {reason}"
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and `asyncio.run` in later tests (the CLI) would refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _skip("the playwright package is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).is_file():
        _skip(f"no chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as error:
            _skip(f"chromium at {CHROMIUM} did not start: {str(error).splitlines()[0]}")
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def assert_not_blank(png: Path) -> None:
    """The screenshot shows something: many colours, and not mostly one."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50, f"{png} has only {len(colours)} colours"
    most = max(count for count, _ in colours)
    assert most < 0.9 * image.width * image.height, f"{png} is mostly one colour"
