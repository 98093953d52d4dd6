"""The dashboard in a real browser (headless Chromium through Selenium): exact figures after
uploads, filters kept in the URL, drill-down region → country → invoices → an invoice's lines
by keyboard and by click. Screenshots go to Tests/artifacts/dashboard-*.png."""
from __future__ import annotations

import os
import shutil
import urllib.parse
from datetime import date
from pathlib import Path

import pytest

import reference
import support

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = support.REPO_ROOT / "Tests" / "artifacts"
WAIT_SECONDS = 30


def pounds(text: str) -> str:
    """The dashboard's form of a decimal string: £, thousands separators, a real minus sign."""
    whole, _, cents = text.partition(".")
    sign = "−" if whole.startswith("-") else ""
    return sign + "£" + f"{int(whole.lstrip('-')):,}" + "." + (cents + "00")[:max(2, len(cents))]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)) or not Path(CHROMEDRIVER).exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-GB"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def loaded(server, seed):
    files = [seed / "IN.csv", seed / "usa.csv"]
    response = support.upload(server, *files, timeout=120)
    assert response.status == 200, response.body
    return [reference.load_file(str(path)) for path in files]


def screenshot(driver, name: str, width: int = 1280) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 800), 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))
    driver.set_window_size(1280, 1000)


def wait_loaded(driver, previous: str | None = None) -> str:
    """Waits until the figures for the current URL are on the page; returns the load marker."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        body = d.find_element("tag name", "body")
        marker = body.get_attribute("data-loaded")
        return marker if marker and marker != previous and body.get_attribute("aria-busy") == "false" else False

    return WebDriverWait(driver, WAIT_SECONDS).until(ready)


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text.strip()


def url_params(driver) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(driver.current_url).query))


def test_figures_filters_and_drill_down(server, loaded, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    everything = reference.summary(loaded)
    browser.get(server.url("/dashboard"))
    marker = wait_loaded(browser)
    assert text(browser, "kpi-revenue") == pounds(everything["revenue"])
    assert text(browser, "kpi-orders") == f"{everything['orders']:,}"
    assert text(browser, "kpi-units") == f"{everything['units']:,}"
    assert text(browser, "kpi-cancellations") == str(everything["cancellations"])
    regions = browser.find_elements(By.CSS_SELECTOR, "#region-chart .bar")
    assert [r.get_attribute("data-key") for r in regions] == [g["key"] for g in reference.breakdown(loaded, "region", 20)]
    screenshot(browser, "overview")

    # Region and date range through the form: the URL carries them, the figures follow.
    Select(browser.find_element(By.ID, "f-region")).select_by_value("IN")
    for element_id, value in (("f-from", "2011-03-01"), ("f-to", "2011-08-31")):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, element_id), value)
    browser.find_element(By.ID, "apply").click()
    marker = wait_loaded(browser, marker)
    assert url_params(browser) == {"region": "IN", "from": "2011-03-01", "to": "2011-08-31"}
    want = reference.summary(loaded, region="IN", date_from=date(2011, 3, 1), date_to=date(2011, 8, 31))
    assert text(browser, "kpi-revenue") == pounds(want["revenue"])
    assert text(browser, "kpi-orders") == f"{want['orders']:,}"
    screenshot(browser, "filtered")

    # The same URL opened afresh shows the same figures (shareable).
    shared = browser.current_url
    browser.get(shared)
    marker = wait_loaded(browser)
    assert text(browser, "kpi-revenue") == pounds(want["revenue"])
    assert Select(browser.find_element(By.ID, "f-region")).first_selected_option.get_attribute("value") == "IN"

    # Drill down from all regions: a region bar by keyboard, then a country bar by click.
    browser.find_element(By.ID, "reset").click()
    marker = wait_loaded(browser, marker)
    assert url_params(browser) == {}
    bar = browser.find_element(By.CSS_SELECTOR, '#region-chart .bar[data-key="USA"]')
    browser.execute_script("arguments[0].focus()", bar)
    bar.send_keys(Keys.ENTER)
    marker = wait_loaded(browser, marker)
    assert url_params(browser) == {"region": "USA"}
    assert text(browser, "kpi-revenue") == pounds(reference.summary(loaded, region="USA")["revenue"])
    countries = browser.find_elements(By.CSS_SELECTOR, "#country-chart .bar")
    assert [c.get_attribute("data-key") for c in countries] == [g["key"] for g in reference.breakdown(loaded, "country", 15, region="USA")]
    countries[0].click()
    marker = wait_loaded(browser, marker)
    country = countries_key = url_params(browser)["country"]
    assert url_params(browser) == {"region": "USA", "country": countries_key}
    invoices = reference.invoices(loaded, region="USA", country=country)
    assert f"{len(invoices)} invoices" in text(browser, "page-info")
    rows = browser.find_elements(By.CSS_SELECTOR, "#invoices-table tbody tr")
    assert len(rows) == min(len(invoices), 25)
    first = invoices[0]
    rows[0].find_element(By.CSS_SELECTOR, "button.link-button").click()
    marker = wait_loaded(browser, marker)
    assert url_params(browser)["invoice"] == f"{first['region']}/{first['invoice_no']}"
    assert browser.find_element(By.ID, "lines-section").is_displayed()
    assert browser.switch_to.active_element.get_attribute("id") == "lines-title"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lines-table tbody tr")) == first["lines"]
    facts = browser.find_element(By.ID, "invoice-facts").text
    assert pounds(first["revenue"]) in facts
    crumbs = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#crumbs li")]
    assert crumbs == ["All regions", "USA", country, f"Invoice {first['invoice_no']}"]
    screenshot(browser, "drilldown")

    # The path back: the region crumb drops the country and the invoice.
    browser.find_element(By.LINK_TEXT, "USA").click()
    wait_loaded(browser, marker)
    assert url_params(browser) == {"region": "USA"}
    assert not browser.find_element(By.ID, "lines-section").is_displayed()


def test_phone_width_and_labels(server, loaded, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(390, 900)
    browser.get(server.url("/dashboard?region=IN"))
    wait_loaded(browser)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    for control in browser.find_elements(By.CSS_SELECTOR, "#filters select, #filters input"):
        label = browser.find_elements(By.CSS_SELECTOR, f'label[for="{control.get_attribute("id")}"]')
        assert label and label[0].text.strip(), control.get_attribute("id")
    # Every region and country bar the reference expects, in order, each a labelled button.
    for dimension in ("region", "country"):
        want = reference.breakdown(loaded, dimension, 50, region="IN")
        assert want, dimension
        bars = browser.find_elements(By.CSS_SELECTOR, f"#{dimension}-chart .bar")
        assert [bar.get_attribute("data-key") for bar in bars] == [g["key"] for g in want], dimension
        for bar, group in zip(bars, want):
            assert bar.get_attribute("tabindex") == "0" and bar.get_attribute("role") == "button"
            label = bar.get_attribute("aria-label")
            assert label.startswith(f"{dimension} {group['key']}: revenue {pounds(group['revenue'])}, "), label
    screenshot(browser, "phone", width=390)


def test_tables_download_as_csv_with_the_exact_figures(server, loaded, browser, downloads):
    import csv
    import time
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 1000)
    browser.get(server.url("/dashboard?region=IN"))
    wait_loaded(browser)
    for kind, want in (("products", reference.breakdown(loaded, "product", 10, region="IN")),
                       ("regions", reference.breakdown(loaded, "region", 20, region="IN"))):
        target = downloads / f"sales-{kind}.csv"
        if target.exists():
            target.unlink()
        button = browser.find_element(By.CSS_SELECTOR, f'[data-csv="{kind}"]')
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        deadline = time.monotonic() + WAIT_SECONDS
        # Done when the file is there with content and Chromium has no partial download left.
        def complete() -> bool:
            return (target.exists() and target.stat().st_size > 0
                    and not any(downloads.glob("*.crdownload")))
        while not complete() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert complete(), f"{target.name} was not downloaded"
        rows = list(csv.reader(target.read_text(encoding="utf-8").splitlines()))
        key = "stock_code" if kind == "products" else "region"
        assert rows[0][0] == key and "revenue" in rows[0]
        revenue = rows[0].index("revenue")
        assert [(r[0], r[revenue]) for r in rows[1:]] == [(g["key"], g["revenue"]) for g in want]
