"""The rendered site in a real browser: Debian's Chromium driven by Playwright, served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import pytest

from pipeline.records import Difference, Environment, Isolation
from pipeline.site import render_site
from tests.site.test_render import HOSTILE, result

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"),
]


def records(tmp_path: Path):
    log = tmp_path / "out" / "logs" / "hostile.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"running setup.py bdist_wheel\n{HOSTILE}\n", encoding="utf-8")
    rows = []
    for day, status in enumerate(["unreproducible", "reproducible", "reproducible"], start=1):
        for tag in ("cp39", "cp310", "cp311", "cp312", "cp313"):
            rows.append(result("six", "1.17.0", tag, status if tag != "cp313" else "reproducible",
                               f"2025-03-0{day}T10:00:00Z"))
    for tag in ("cp39", "cp310", "cp311", "cp312", "cp313"):
        rows.append(result("markupsafe", "3.0.2", tag, "unreproducible", "2025-03-03T09:00:00Z",
                           differences=(Difference("markupsafe/_speedups.so", "content",
                                                   "embedded path /tmp/pip-build-env-x1", "embedded-build-path"),),
                           sensitive_to=("build_path",), variations={"build_path": "differs", "umask": "same"}))
        rows.append(result("pyyaml", "6.0.2", tag, "build-failed" if tag == "cp313" else "reproducible",
                           "2025-03-02T09:00:00Z"))
    rows.append(result("cryptography", "44.0.0", "cp312", "error", "2025-03-03T08:00:00Z", message="index timed out"))
    # requests 2.34.2 dropped 3.9: cp39 built 2.32.5; a pinned 2.34.2 on cp310 is not applicable
    rows.append(result("requests", "2.32.5", "cp39", "reproducible", "2025-03-03T06:00:00Z"))
    rows.append(result("requests", "2.34.2", "cp310", "not-applicable", "2025-03-03T06:00:00Z",
                       requires_python=">=3.11", message="requires Python >=3.11 (this interpreter is 3.10.16)"))
    for tag in ("cp311", "cp312", "cp313"):
        env = Environment("f" * 64, "b" * 64, "3.12.9", tag, ("pip==1 --hash=sha256:" + "0" * 64,), (), "/env")
        rows.append(result("requests", "2.34.2", tag, "reproducible", "2025-03-03T06:00:00Z", environment=env))
    rows.append(result(HOSTILE, HOSTILE, "cp312", "unreproducible", "2025-03-03T07:00:00Z", log0="out/logs/hostile.log",
                       differences=(Difference(HOSTILE, "content", HOSTILE),), isolation=Isolation("none", False)))
    return rows


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    site = root / "site"
    render_site(records(root), site, generated="2025-03-03T12:00:00Z", log_root=root)
    with _serving(site) as url:
        yield url


@contextlib.contextmanager
def _serving(site: Path):
    """The site's folder over http on a free local port, for the fixture's whole scope."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


def page_for(browser, base, scheme="light", width=1280):
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base.rstrip("/"))
    page = context.new_page()
    page.add_init_script("window.pwned = 0;")
    return context, page


def test_home_matrix_filter_project_copy(browser, served):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = page_for(browser, served)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served)
    assert page.locator("h1").inner_text().startswith("Are Python wheels reproducible")
    assert page.locator(".chart").count() == 1
    page.screenshot(path=str(ARTIFACTS / "home-light.png"), full_page=True)

    page.get_by_role("link", name="Matrix", exact=True).click()
    page.wait_for_url("**/matrix.html")
    rows = page.locator("#matrix tbody tr")
    assert rows.count() == 6
    page.fill("#f-q", "six")
    assert page.locator("#matrix tbody tr:not([hidden])").count() == 1
    assert "q=six" in page.url
    assert page.locator("#f-count").inner_text() == "1 of 6 projects"
    page.fill("#f-q", "")
    page.select_option("#f-status", "build-failed")
    visible = page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts()
    assert visible == ["pyyaml"]
    page.screenshot(path=str(ARTIFACTS / "matrix-light.png"), full_page=True)

    page.goto(served + "matrix.html?status=unreproducible")
    visible = page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts()
    assert sorted(visible) == sorted(["markupsafe", HOSTILE])
    page.goto(served + "matrix.html?status=retrying")
    assert page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts() == ["cryptography"]
    page.goto(served + "matrix.html?status=not-applicable")
    assert page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts() == ["requests"]

    # sorting by a column is keyboard-operable: focus the header button and press Enter
    page.goto(served + "matrix.html")
    page.locator("th[data-sort='cp313'] button").focus()
    page.keyboard.press("Enter")
    assert page.locator("#matrix tbody tr th").first.inner_text() in ("markupsafe", "requests", "six")

    page.get_by_role("link", name="six", exact=True).click()
    page.wait_for_url("**/projects/six.html")
    assert page.locator("h1").inner_text().startswith("six")
    button = page.locator("button.copy").first
    assert button.is_visible()
    button.click()
    page.wait_for_function("document.querySelector('button.copy').textContent === 'Copied'")
    assert button.get_attribute("data-copied") == "nox -s check -- six==1.17.0"
    assert page.evaluate("navigator.clipboard.readText()") == "nox -s check -- six==1.17.0"
    page.screenshot(path=str(ARTIFACTS / "project-light.png"), full_page=True)
    assert errors == []
    context.close()


def test_hostile_strings_show_as_text_and_never_run(browser, served):
    context, page = page_for(browser, served)
    page.goto(served + "matrix.html")
    page.get_by_role("link", name=HOSTILE, exact=True).click()
    assert page.locator("h1").inner_text().startswith(HOSTILE)
    assert page.get_by_text(HOSTILE).count() >= 3
    assert page.evaluate("window.pwned") == 0
    assert page.locator("script").count() == 1  # only the site's own site.js
    assert "unsandboxed" in page.locator("section.slot h3").first.inner_text()
    page.get_by_role("link", name="log").first.click()
    assert HOSTILE in page.locator("body").inner_text()
    assert page.evaluate("window.pwned") == 0
    context.close()


@pytest.mark.parametrize("scheme", ["dark"])
def test_dark_and_phone_screenshots(browser, served, scheme):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = page_for(browser, served, scheme=scheme)
    page.goto(served)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    page.screenshot(path=str(ARTIFACTS / "home-dark.png"), full_page=True)
    page.goto(served + "projects/markupsafe.html")
    page.screenshot(path=str(ARTIFACTS / "project-dark.png"), full_page=True)
    context.close()
    context, page = page_for(browser, served, width=390)
    page.goto(served + "projects/six.html")
    overflow = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "project-phone.png"), full_page=True)
    assert overflow, "the page scrolls sideways on a phone"
    context.close()


def test_the_matrix_reads_on_a_phone_every_verdict_visible(browser, served):
    """At 390 px each row is a card: every cell's whole verdict is on screen, none cut ("✓ re")."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = page_for(browser, served, width=390)
    page.goto(served + "matrix.html")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "sideways scroll"
    page.screenshot(path=str(ARTIFACTS / "matrix-phone.png"), full_page=True)
    cells = page.locator("#matrix tbody td[class^='st-']")
    assert cells.count() == 30  # 6 projects x 5 Pythons, "not tried" cells included
    words = {"st-reproducible": "reproducible", "st-unreproducible": "unreproducible",
             "st-build-failed": "build failed", "st-unchecked": "not", "st-not-applicable": "not applicable"}
    for index in range(cells.count()):
        cell = cells.nth(index)
        status = cell.get_attribute("class").split()[0]
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, (status, box)
        clipped = cell.evaluate("el => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1")
        assert not clipped, f"cell {index} ({status}) cuts its text"
        text = cell.inner_text()
        assert words[status] in text, (status, text)
        label = cell.evaluate("el => getComputedStyle(el, '::before').content")
        assert label.strip('"').startswith("cp3"), f"each cell is labelled with its Python on a phone: {label}"
    na = page.locator("#matrix tbody td.st-not-applicable")
    assert "needs Python >=3.11" in na.inner_text()
    older = page.locator("#matrix tbody tr", has_text="requests").locator("td.st-reproducible").first
    assert "2.32.5" in older.inner_text()
@pytest.fixture(scope="module")
def served_pypi(tmp_path_factory):
    """A site whose results compare the index's wheel in every way (pipeline.upstream)."""
    from tests.site.test_render import _pypi_results

    site = tmp_path_factory.mktemp("browser-pypi") / "site"
    render_site(_pypi_results(), site, generated="2025-03-03T12:00:00Z")
    with _serving(site) as url:
        yield url


def test_the_matrix_filters_on_pypis_wheel_reproduced(browser, served_pypi):
    context, page = page_for(browser, served_pypi)
    page.goto(served_pypi)
    page.get_by_role("link", name="2", exact=True).click()  # the home page's count links to the filtered matrix
    page.wait_for_url("**/matrix.html?pypi=ok")
    assert sorted(page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts()) == ["near", "ok"]
    assert page.locator("#f-pypi").input_value() == "ok"
    page.select_option("#f-pypi", "no")
    assert page.locator("#matrix tbody tr:not([hidden]) th").all_inner_texts() == ["off"]
    assert "pypi=no" in page.url
    page.select_option("#f-pypi", "")
    assert page.locator("#matrix tbody tr:not([hidden])").count() == 5
    page.get_by_role("link", name="ok", exact=True).click()
    assert "Rebuilt with the toolchain that made it" in page.locator("body").inner_text()
    context.close()


def test_the_rederive_command_names_the_records_absolute_url_and_copies_it(browser, served):
    context, page = page_for(browser, served)
    page.goto(served + "projects/requests.html")
    code = page.locator("#d-2\\.34\\.2-cp312")
    expected = (f"wheelrepro check --from-record {served}api/projects/requests.json requests==2.34.2 "
                "--python 3.12.9")
    assert code.inner_text() == expected, "the page's script made the record's path absolute"
    button = page.locator("button[data-copy='d-2.34.2-cp312']")
    button.click()
    page.wait_for_function("document.querySelector(\"button[data-copy='d-2.34.2-cp312']\").textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == expected
    assert page.request.get(served + "api/projects/requests.json").ok, "the URL it names is served"
    context.close()
