"""Debian's chromium, driven by Playwright for Python (no browser is downloaded: `make test`
installs the `chromium` package and passes its path as ``SSJ_CHROMIUM``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("SSJ_CHROMIUM", "/usr/bin/chromium")
# A verification ends in one of these (portal.js); "running" is on the way.
VERDICTS = ("valid", "invalid", "unreadable", "unavailable")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium; fails (never skips) when the browser is not installed."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"no browser at {CHROMIUM}: `make test` installs Debian's chromium "
            "(apt-get install chromium), or point SSJ_CHROMIUM at one"
        )
    # The sandbox needs user namespaces a root process in a container does not get.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


def verdict_of(page: Page, timeout_ms: int = 60_000) -> tuple[str, list[str], dict[str, bool]]:
    """Wait for the verifier on ``page`` to finish: its verdict, the problems it names (as
    ``ssj draw verify`` prints them after MISMATCH) and each check's pass or fail."""
    page.wait_for_function(
        "(done) => { const v = document.getElementById('verdict');"
        " return v !== null && done.includes(v.dataset.verdict); }",
        arg=list(VERDICTS),
        timeout=timeout_ms,
    )
    verdict = page.get_attribute("#verdict", "data-verdict") or ""
    problems = page.eval_on_selector_all("#problems li", "items => items.map(i => i.textContent)")
    checks = page.eval_on_selector_all(
        "#checks > li", "items => items.map(i => [i.dataset.check, i.dataset.ok === 'true'])"
    )
    return verdict, problems, dict(checks)


def verify_file(page: Page, base_url: str, text: str, path: Path) -> tuple[str, list[str]]:
    """Verify a proof file on the portal's /verify page, as a reader who downloaded it."""
    path.write_text(text, encoding="utf-8")
    page.goto(f"{base_url}/verify")
    page.set_input_files("#proof-file", str(path))
    verdict, problems, _ = verdict_of(page)
    return verdict, problems
