"""The upload page in a real browser (headless Chromium through Selenium): two seed
files chosen at once become two result rows whose revenue equals the reference."""
from __future__ import annotations

import pytest

import browser_support
import reference
import support

ARTIFACTS = support.REPO_ROOT / "Tests" / "artifacts"
FINAL = ("loaded", "already_loaded", "rejected", "failed", "error")
WAIT_SECONDS = browser_support.WAIT_SECONDS


def _group_thousands(text: str) -> str:
    whole, _, cents = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return sign + f"{int(whole.lstrip('-')):,}" + "." + cents


@pytest.fixture(scope="module")
def browser():
    driver = browser_support.start_chromium()
    yield driver
    driver.quit()


def test_two_files_through_the_page_match_the_reference(server, browser, seed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    files = [seed / "IN.csv", seed / "usa.csv"]
    want = {r.region: r for r in (reference.load_file(str(path)) for path in files)}

    browser.get(server.url("/"))
    assert "js" in browser.find_element(By.TAG_NAME, "html").get_attribute("class").split()
    browser.find_element(By.ID, "file").send_keys("\n".join(str(path) for path in files))

    def finished(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody.result")
        states = [row.get_attribute("data-status") for row in rows]
        return rows if len(rows) == 2 and all(state in FINAL for state in states) else False

    rows = WebDriverWait(browser, WAIT_SECONDS).until(finished)
    seen = {}
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "tr.result-row > td")
        region = cells[0].text.strip()
        revenue = row.find_element(By.CSS_SELECTOR, "td.revenue")
        seen[region] = (row.get_attribute("data-status"), revenue.get_attribute("data-value"), revenue.text)
    assert set(seen) == set(want), seen
    for region, (status, value, shown) in seen.items():
        assert status == "loaded", seen
        assert value == want[region].revenue_text
        assert shown.startswith(_group_thousands(want[region].revenue_text)), shown

    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#recent li")) >= 2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "upload-page.png"))


def test_page_fits_a_360_pixel_screen(server, browser, seed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Desktop Chromium will not make a window this narrow; emulate a phone's viewport.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True})
    try:
        browser.get(server.url("/"))
        browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, "#results tbody.result")
            .get_attribute("data-status") in FINAL)
        inner = browser.execute_script("return window.innerWidth")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert inner == 360
        assert width <= inner, f"page is {width}px wide in a {inner}px window"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "upload-page-360.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_money_is_formatted_from_the_string(server, browser):
    browser.get(server.url("/"))
    cases = {"1234.5": "1,234.50", "136922.50": "136,922.50", "-0.004": "0.00", "999999.995": "1,000,000.00",
             "-1234567.125": "-1,234,567.13", "12345678901234567890.10": "12,345,678,901,234,567,890.10"}
    got = browser.execute_script(
        "return Object.fromEntries(Object.keys(arguments[0]).map(k => [k, window.salesPortal.formatMoney(k)]))",
        cases)
    assert got == cases


def test_a_long_load_shows_its_progress(server, browser, tmp_path):
    """While the server loads a large file's rows, the page shows how far it has come."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path = tmp_path / "UK.csv"
    path.write_text(support.sales_csv(600_000, first_invoice=900000))
    browser.get(server.url("/"))
    # Every text the progress cell ever shows is kept (no sampling that a quick render could slip past).
    browser.execute_script(
        "window.progressSeen = [];"
        "new MutationObserver(function () {"
        "  document.querySelectorAll('#results .progress-cell').forEach(function (c) {"
        "    window.progressSeen.push(c.textContent); });"
        "}).observe(document.getElementById('results'), {subtree: true, childList: true, characterData: true});")
    browser.find_element(By.ID, "file").send_keys(str(path))

    def final(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody.result")
        status = rows[-1].get_attribute("data-status") if rows else None
        return status if status in FINAL else False

    status = WebDriverWait(browser, 300, poll_frequency=0.2).until(final)
    seen = browser.execute_script("return window.progressSeen")
    assert status == "loaded", seen[-3:]
    # The precondition: the load lasted long enough for the page's poll (every 0.7 s) to see it.
    [record] = [r for r in support.history(server) if r["file"] == "UK.csv" and r["rows"]["read"] == 600_000]
    from datetime import datetime
    took = (datetime.fromisoformat(record["updated_at"]) - datetime.fromisoformat(record["created_at"])).total_seconds()
    assert took > 2.0, f"the upload was over {took:.2f} s after it was recorded: too short to watch"
    assert any("rows read" in text for text in seen), f"no load progress was shown: {sorted(set(seen))[:10]}"


def test_a_semicolon_file_with_decimal_commas_through_the_page(fresh_server, browser, seed, tmp_path):
    """Saved as Excel in Germany or France saves CSV, the seed file loads to the cent and the
    page says how it was read."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from test_dialects import resave

    want = reference.load_file(str(seed / "IN.csv"))
    path = resave(seed / "IN.csv", tmp_path / "IN.csv", ";", True)
    browser.get(fresh_server.url("/"))
    browser.find_element(By.ID, "file").send_keys(str(path))

    def finished(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody.result")
        return rows if len(rows) == 1 and rows[0].get_attribute("data-status") in FINAL else False

    [row] = WebDriverWait(browser, WAIT_SECONDS).until(finished)
    assert row.get_attribute("data-status") == "loaded"
    assert row.find_element(By.CSS_SELECTOR, "td.revenue").get_attribute("data-value") == want.revenue_text
    assert "Read as semicolon-separated values, with decimal commas." in row.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "upload-semicolons.png"))


def test_the_delimiter_chosen_on_the_page_is_the_one_used(fresh_server, browser, seed, tmp_path):
    """Semicolons chosen for a comma file: the header is read with semicolons, so the file is
    refused for the columns it lacks and nothing is loaded; chosen back to "told from the
    header line", the same file loads."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(fresh_server.url("/"))
    Select(browser.find_element(By.ID, "delimiter")).select_by_value("semicolon")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "upload-delimiter-chosen.png"))
    browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))

    def finished(count):
        def check(driver):
            rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody.result")
            return rows if len(rows) == count and rows[-1].get_attribute("data-status") in FINAL else False
        return check

    [refused] = WebDriverWait(browser, WAIT_SECONDS).until(finished(1))
    assert refused.get_attribute("data-status") != "loaded", refused.text
    assert "header" in refused.text.lower(), refused.text
    assert support.history(fresh_server) == [] or all(r["rows"]["loaded"] == 0 for r in support.history(fresh_server))

    Select(browser.find_element(By.ID, "delimiter")).select_by_value("")
    browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))
    rows = WebDriverWait(browser, WAIT_SECONDS).until(finished(2))
    assert rows[-1].get_attribute("data-status") == "loaded", rows[-1].text
