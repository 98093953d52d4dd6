"""Headless Chromium through chromedriver, as every browser test starts it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_SECONDS = 30


def start_chromium(downloads: Path | None = None, console_log: bool = False):
    """A headless Chromium at 1280×1000 (en-GB); `downloads` receives its downloads; with
    `console_log` the page's console can be read. Skips the test when Chromium is missing
    (a failure under CI=true, see conftest)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)) or not Path(CHROMEDRIVER).exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-GB"):
        options.add_argument(argument)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    driver.set_script_timeout(WAIT_SECONDS)
    return driver
