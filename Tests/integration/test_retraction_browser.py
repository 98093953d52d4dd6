"""Taking an upload back from the upload page in a real browser (headless Chromium through
Selenium), mode none: the Undo button of a recent upload asks for confirmation naming the
file, its rows and revenue; once accepted the upload is shown struck through as taken back,
and the dashboard's revenue drops by exactly that file's revenue."""
from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

import reference
import retraction_support as rs
import support
from test_browser_upload import ARTIFACTS, FINAL, WAIT_SECONDS, _group_thousands, browser  # noqa: F401


def _amount(text: str) -> Decimal | None:
    """The number in a money text such as "£136,922.50" or "−12.00"; None when there is none."""
    cleaned = re.sub(r"[^0-9.\-]", "", text.replace("\u2212", "-"))
    return Decimal(cleaned) if re.fullmatch(r"-?\d+\.\d+", cleaned) else None


def _dashboard_revenue(server: support.Server, driver, want: Decimal) -> Decimal:
    """The dashboard's revenue tile once it shows `want` (bounded); fails showing what it showed."""
    from selenium.webdriver.common.by import By

    driver.get(server.url("/dashboard"))
    deadline = time.monotonic() + WAIT_SECONDS
    shown = None
    while time.monotonic() < deadline:
        shown = driver.find_element(By.ID, "kpi-revenue").text
        if _amount(shown) == want:
            return want
        time.sleep(0.1)
    raise AssertionError(f"the revenue tile shows {shown!r}, expected {want}")


def test_undo_on_the_upload_page_takes_the_file_back(fresh_server, browser, seed):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    usa = reference.load_file(str(seed / "usa.csv"))
    india = reference.load_file(str(seed / "IN.csv"))
    assert rs.upload_one(fresh_server, seed / "usa.csv")["status"] == "loaded"

    browser.get(fresh_server.url("/"))
    browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))
    row = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "#results tbody.result")
                        if r.get_attribute("data-status") in FINAL), False))
    assert row.get_attribute("data-status") == "loaded"
    [upload] = [u for u in support.history(fresh_server) if u["file"] == "IN.csv"]

    both = Decimal(reference.summary([usa, india])["revenue"])
    before = _dashboard_revenue(fresh_server, browser, both)

    browser.get(fresh_server.url("/"))
    selector = f'#recent button.undo[data-upload="{upload["id"]}"]'
    button = WebDriverWait(browser, WAIT_SECONDS).until(lambda d: (d.find_elements(By.CSS_SELECTOR, selector) or [False])[0])
    button.click()
    alert = WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.switch_to.alert)
    question = alert.text
    alert.accept()
    assert "IN.csv" in question, question
    assert f"{india.loaded:,}" in question and _group_thousands(india.revenue_text) in question, question

    # Read in one script call: the list is drawn again when it refreshes.
    snapshot = """
        var items = document.querySelectorAll('#recent li');
        for (var i = 0; i < items.length; i++) {
          var link = items[i].querySelector('a');
          if (link && link.getAttribute('href').endsWith('/' + arguments[0])) {
            var file = items[i].querySelector('.recent-file') || items[i];
            return {classes: items[i].className, text: items[i].textContent,
                    undo: items[i].querySelectorAll('button.undo').length,
                    decoration: getComputedStyle(file).textDecorationLine};
          }
        }
        return null;"""
    item = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: (lambda i: i if i and "is-retracted" in i["classes"].split() else False)(
            d.execute_script(snapshot, upload["id"])))
    assert "taken back by anonymous" in item["text"], item
    assert item["undo"] == 0, f"a retracted upload cannot be taken back again: {item}"
    assert "line-through" in item["decoration"], item
    assert rs.record(fresh_server, upload["id"])["status"] == "retracted"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "upload-retracted.png"))

    after = _dashboard_revenue(fresh_server, browser, Decimal(usa.revenue_text))
    assert before - after == india.revenue, (before, after, india.revenue)
