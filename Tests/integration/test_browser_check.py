"""Check first, on the upload page: with "Check first" ticked a chosen file is only checked (its
counts, rejected lines and first rows shown, nothing stored), and its "Upload" button then
loads it for real. Without JavaScript the form's check answers a page with the same facts."""
from __future__ import annotations

import pytest

import browser_support
import reference
import support

ARTIFACTS = support.REPO_ROOT / "Tests" / "artifacts"
WAIT_SECONDS = browser_support.WAIT_SECONDS


@pytest.fixture(scope="module")
def browser():
    driver = browser_support.start_chromium()
    yield driver
    driver.quit()


def test_a_checked_file_shows_its_rows_and_uploads_with_one_click(fresh_server, browser, seed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    want = reference.load_file(str(seed / "IN.csv"))
    browser.get(fresh_server.url("/"))
    box = browser.find_element(By.ID, "dry-run")
    assert not box.is_selected()
    browser.find_element(By.CSS_SELECTOR, 'label[for="dry-run"]').click()
    assert box.is_selected()
    browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))

    def status_of(index):
        def read(driver):
            rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody.result")
            return rows[index] if len(rows) > index and rows[index].get_attribute("data-status") not in ("uploading", "loading") else False
        return read

    checked = WebDriverWait(browser, WAIT_SECONDS).until(status_of(0))
    assert checked.get_attribute("data-status") == "checked", checked.text
    assert checked.find_element(By.CSS_SELECTOR, "td.revenue").get_attribute("data-value") == want.revenue_text
    sample = checked.find_elements(By.CSS_SELECTOR, ".sample-table tbody tr")
    assert len(sample) == 20
    first = [cell.text for cell in sample[0].find_elements(By.TAG_NAME, "td")]
    row = want.rows[0]
    assert first[:5] == [str(row.line), row.invoice_no, row.stock_code, row.description, str(row.quantity)], first
    assert "nothing was stored" in checked.text.lower()
    # Checked only: no record, no raw file.
    assert support.history(fresh_server) == []
    # Nothing wider than the window: the sample table wraps instead of stretching the page.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= \
        browser.execute_script("return window.innerWidth")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", checked)
    browser.save_screenshot(str(ARTIFACTS / "check-first.png"))

    # The upload loads what was checked: a region chosen since then does not change it.
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element(By.ID, "region")).select_by_value("UK")
    checked.find_element(By.XPATH, ".//button[normalize-space()='Upload IN.csv']").click()
    uploaded = WebDriverWait(browser, WAIT_SECONDS).until(status_of(1))
    assert uploaded.get_attribute("data-status") == "loaded", uploaded.text
    [record] = support.history(fresh_server)
    assert record["status"] == "loaded" and record["rows"]["loaded"] == want.loaded and record["region"] == "IN"


def test_without_javascript_the_check_answers_a_page(fresh_server, seed):
    want = reference.load_file(str(seed / "IN.csv"))
    response = support.curl(fresh_server.url("/api/uploads"), "-H", "Accept: text/html",
                            "-F", "dry_run=1", "-F", f"file=@{seed / 'IN.csv'}")
    assert response.status == 200 and response.headers["content-type"].startswith("text/html"), response.body[:500]
    page = response.body.decode()
    assert "<h1>Check result</h1>" in page and "Nothing was stored or loaded" in page
    assert f"<dt>Would load</dt><dd>{want.loaded}</dd>" in page
    assert f"<td>{want.rows[0].invoice_no}</td>" in page
    assert page.count("<tr><td>") == 20
    assert support.history(fresh_server) == []
