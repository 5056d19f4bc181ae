"""Browser fixtures: the test app behind a real server, Chromium pages, axe checks.

The ``app`` fixture of ``tests/conftest.py`` (SQLite and PostgreSQL) is served
by a threaded WSGI server on 127.0.0.1 and a free port; Playwright drives
Debian's Chromium against it. A failed test leaves a full-page screenshot of
each of its pages in ``test-results/screenshots/``.
"""

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import DEFAULT_PASSWORD, service_missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: axe impacts that fail a test; "minor" and "moderate" ones are left to review.
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class _QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture
def live_server(app):
    """The test app served over HTTP on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run."""
    if not CHROMIUM.exists():
        service_missing("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _screenshot_name(item) -> str:
    return re.sub(r"[^A-Za-z0-9_.\[\]-]+", "_", item.name)


@pytest.fixture
def new_page(browser, live_server, request):
    """``new_page(**context_options)``: a fresh browser context and page on the live server."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    for number, context in enumerate(contexts):
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            suffix = f"-{number + 1}" if len(contexts) > 1 else ""
            for page in context.pages:
                page.screenshot(
                    path=SCREENSHOTS / f"{_screenshot_name(request.node)}{suffix}.png",
                    full_page=True,
                )
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop browser page."""
    return new_page(viewport=DESKTOP)


@pytest.fixture
def phone_page(new_page):
    """A phone-sized touch page (390×844, as an iPhone 12-14)."""
    return new_page(viewport=PHONE, is_mobile=True, has_touch=True)


@pytest.fixture
def sign_in_page():
    """``sign_in_page(page, user)``: sign in through the real form and land on the dashboard."""

    def sign_in(page, user, password: str = DEFAULT_PASSWORD):
        page.goto("/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/$"))

    return sign_in


def run_axe(page) -> None:
    """Assert the page has no serious or critical accessibility violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    details = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {', '.join(map(str, node['target']))}" for node in v["nodes"])
        for v in blocking
    )
    assert not blocking, f"accessibility violations on {page.url}:\n{details}"


@pytest.fixture
def axe_check():
    """``axe_check(page)``: fail on serious or critical axe violations of the current page."""
    return run_axe
