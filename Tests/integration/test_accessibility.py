"""Every page passes axe-core (the engine inside PyPI's axe-selenium-python) in headless
Chromium with no violation: the upload page, the dashboard with a drill-down open, the audit
page and the sign-in page."""
from __future__ import annotations

import pytest

import browser_support
import support

WAIT_SECONDS = browser_support.WAIT_SECONDS


@pytest.fixture(scope="module")
def browser():
    driver = browser_support.start_chromium()
    yield driver
    driver.quit()


def violations(driver) -> list[dict]:
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    return axe.run()["violations"]


def describe(found: list[dict]) -> str:
    return "\n".join(f"{v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})"
                     for v in found)


def settled(driver) -> None:
    """Waits until the page's script has drawn what it loads (the dashboard marks it on <body>)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        body = d.find_element("tag name", "body")
        return d.execute_script("return document.readyState") == "complete" and body.get_attribute("aria-busy") != "true"

    WebDriverWait(driver, WAIT_SECONDS).until(ready)


@pytest.fixture(scope="module")
def loaded(server, seed):
    response = support.upload(server, seed / "IN.csv", seed / "usa.csv", timeout=120)
    assert response.status == 200, response.body


@pytest.mark.parametrize("path", [
    "/",
    "/dashboard",
    "/dashboard?region=USA",
    "/dashboard?region=USA&country=USA",
    "/audit",
])
def test_a_page_has_no_accessibility_violation(browser, server, loaded, path):
    browser.get(server.url(path))
    settled(browser)
    found = violations(browser)
    assert not found, f"{path}:\n{describe(found)}"


def test_an_open_invoice_has_no_accessibility_violation(browser, server, loaded):
    invoices = support.get(server, "/api/report/invoices?region=USA&page_size=1").json()["invoices"]
    assert invoices, "no invoice to open"
    invoice = invoices[0]["invoice_no"]
    browser.get(server.url(f"/dashboard?region=USA&invoice=USA%2F{invoice}"))
    settled(browser)
    found = violations(browser)
    assert not found, describe(found)


def test_the_sign_in_page_has_no_accessibility_violation(browser, server):
    browser.get(server.url("/login"))
    settled(browser)
    found = violations(browser)
    assert not found, describe(found)
