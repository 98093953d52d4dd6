"""Every page passes axe-core (the engine inside PyPI's axe-selenium-python) in headless
Chromium with no violation: the upload page, the dashboard with a drill-down open, the audit
page and the sign-in page."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import support

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)) or not Path(CHROMEDRIVER).exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-GB"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    driver.set_script_timeout(WAIT_SECONDS)
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
