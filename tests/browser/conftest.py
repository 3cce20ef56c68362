"""Reports as a reader's browser shows them: Debian's ``chromium`` driven by ``chromium-driver``
through Selenium, headless, offline (every host name resolves to nothing).

Each runbook's sample report, and one report of a run that could not finish, is rendered once per
session with opskit's own runner, loaded once, inspected once; the tests assert on what was seen.
The first screen of each is saved under ``test-artifacts/browser/`` (override with
``$OPSKIT_TEST_ARTIFACTS``). The tests skip, saying so, only when chromium or its driver is absent
(``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from opskit.runner import run_runbook

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1280, 800)  # the first screen of a laptop: the page area, in CSS pixels
# A run that cannot finish, ``error:<runbook>``: the runbook with a section that raises after its verdict
# table (a bug in a section); papermill marks the failing cell and stops, the runner still renders it.
PLANTED_ERROR = 'raise RuntimeError("planted failure: this section could not be drawn")'
# One hidden inspection script: everything the tests assert on, read from the loaded page.
INSPECT_JS = (Path(__file__).parent / "inspect_page.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PageSeen:
    """What chromium showed for one report."""

    name: str
    html_path: Path
    screenshot: Path
    console: list[dict] = field(default_factory=list)  # browser log entries
    requests: list[str] = field(default_factory=list)  # URLs chromium asked the network for
    page: dict = field(default_factory=dict)  # what INSPECT_JS returned


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromium-driver", driver)) if not p)
        pytest.skip(f"{missing} not installed: apt-get install -y chromium chromium-driver (.ci/run installs them)")
    return browser, driver


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = Path(os.environ.get("OPSKIT_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    browser_path, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={SCREEN[0]},{SCREEN[1]}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: nothing is fetched, whatever a page asks for
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=driver_path, log_output=str(tmp_path_factory.mktemp("chromedriver") / "log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(120)
    # the page area itself, not the window around it (headless chromium keeps room for its toolbars)
    metrics = {"width": SCREEN[0], "height": SCREEN[1], "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def render_report(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``render(name)``: the HTML report of ``name`` (a runbook, or ``error:<fixture>``), rendered once."""
    reports = tmp_path_factory.mktemp("browser-reports")
    cache: dict[str, Path] = {}

    def render(name: str) -> Path:
        if name not in cache:
            if name.startswith("error:"):
                runbook = _with_failing_section(name.split(":", 1)[1], reports.parent / "error-runbooks")
                run = run_runbook(runbook, {}, reports_dir=reports, fail_on="never")
                assert run.summary["error"]["evalue"].startswith("planted failure"), run.summary["error"]
            else:
                run = run_runbook(name, {}, reports_dir=reports, fail_on="never")
                assert run.summary["error"] is None, f"{name}'s sample run did not finish: {run.summary['error']}"
            cache[name] = run.html_path
        return cache[name]

    return render


def _with_failing_section(stem: str, folder: Path) -> Path:
    """A copy of runbook ``stem`` whose cell before ``publish_summary`` raises."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(ROOT / "runbooks" / f"{stem}.ipynb", as_version=4)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(PLANTED_ERROR))
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


def _network_requests(performance_log: list[dict]) -> list[str]:
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        if url.split(":", 1)[0].lower() not in ("file", "data", "about", "blob"):
            urls.append(url)
    return urls


@pytest.fixture(scope="session")
def seen(browser, render_report, artifacts_dir) -> Callable[[str], PageSeen]:
    """``seen(name)``: load the report of ``name`` in chromium once; what it showed."""
    cache: dict[str, PageSeen] = {}

    def look(name: str) -> PageSeen:
        if name not in cache:
            html_path = render_report(name)
            browser.get_log("browser"), browser.get_log("performance")  # drop what earlier pages left
            browser.get(html_path.as_uri())
            browser.execute_script("window.scrollTo(0, 0)")
            page = browser.execute_async_script(INSPECT_JS)
            screenshot = artifacts_dir / f"{name.replace(':', '-')}.png"
            browser.save_screenshot(str(screenshot))
            cache[name] = PageSeen(
                name=name,
                html_path=html_path,
                screenshot=screenshot,
                console=browser.get_log("browser"),
                requests=_network_requests(browser.get_log("performance")),
                page=page,
            )
        return cache[name]

    return look
