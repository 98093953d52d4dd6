"""The dashboard in a real browser (headless Chromium through Selenium): exact figures after
uploads, filters kept in the URL, drill-down region → country → invoices → an invoice's lines
by keyboard and by click. Screenshots go to Tests/artifacts/dashboard-*.png."""
from __future__ import annotations

import urllib.parse
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import browser_support
import reference
import support

ARTIFACTS = support.REPO_ROOT / "Tests" / "artifacts"
WAIT_SECONDS = browser_support.WAIT_SECONDS


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
    driver = browser_support.start_chromium(downloads=downloads)
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


def _download(browser, downloads: Path, kind: str) -> list[list[str]]:
    """Presses the Download CSV button of `kind` and reads the file Chromium saved."""
    import csv
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    target = downloads / f"sales-{kind}.csv"
    if target.exists():
        target.unlink()
    button = browser.find_element(By.CSS_SELECTOR, f'[data-csv="{kind}"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    # Done when the file is there with content and Chromium has no partial download left.
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.1).until(
        lambda _: target.exists() and target.stat().st_size > 0 and not any(downloads.glob("*.crdownload")),
        f"{target.name} was not downloaded")
    return list(csv.reader(target.read_text(encoding="utf-8").splitlines()))


def test_every_table_downloads_as_csv_with_the_exact_figures(server, loaded, browser, downloads):
    browser.set_window_size(1280, 1000)
    browser.get(server.url("/dashboard?region=IN&grain=month"))
    wait_loaded(browser)
    for kind, key in (("products", "stock_code"), ("regions", "region"), ("countries", "country")):
        by = {"products": "product", "regions": "region", "countries": "country"}[kind]
        want = reference.breakdown(loaded, by, 10 if kind == "products" else 20, region="IN")
        rows = _download(browser, downloads, kind)
        assert rows[0][0] == key and "revenue" in rows[0]
        revenue = rows[0].index("revenue")
        assert [(r[0], r[revenue]) for r in rows[1:]] == [(g["key"], g["revenue"]) for g in want], kind

    rows = _download(browser, downloads, "trend")
    assert rows[0] == ["period_start", "revenue", "orders", "units"]
    assert rows[1:] == [[p["period"], p["revenue"], str(p["orders"]), str(p["units"])]
                        for p in reference.time_series(loaded, "month", region="IN")]

    invoices = reference.invoices(loaded, region="IN")
    rows = _download(browser, downloads, "invoices")
    assert rows[0] == ["region", "invoice_no", "time", "country", "customer", "lines", "revenue", "is_cancellation"]
    assert len(rows) - 1 == min(len(invoices), 25)
    assert [(r[0], r[1], r[5], r[6], r[7]) for r in rows[1:]] == [
        (i["region"], i["invoice_no"], str(i["lines"]), i["revenue"], str(i["is_cancellation"]).lower())
        for i in invoices[:25]]

    # An invoice's lines: the same lines as in the file, in file order.
    first = invoices[0]
    browser.get(server.url(f"/dashboard?region=IN&invoice=IN/{first['invoice_no']}"))
    wait_loaded(browser)
    lines = sorted((r for result in loaded for r in result.rows
                    if r.region == "IN" and r.invoice_no == first["invoice_no"]), key=lambda r: r.line)
    rows = _download(browser, downloads, "lines")
    assert rows[0] == ["stock_code", "description", "quantity", "unit_price", "revenue", "is_product", "source_line"]
    assert [(r[0], int(r[2]), r[6]) for r in rows[1:]] == [(r.stock_code, r.quantity, str(r.line)) for r in lines]
    assert [reference.money(Decimal(r[4])) for r in rows[1:]] == [reference.money(r.revenue) for r in lines]
