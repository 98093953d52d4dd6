"""Access control in a real browser (headless Chromium through Selenium).

Cross-site request forgery: a page on a second origin (an HTTP server of this test on
127.0.0.2, while the portal is on 127.0.0.1) posts a CSV to the portal's /api/uploads by
fetch(no-cors, credentials: include), by a script that fills and submits a form, and by a
plain form without any script that the victim submits, both against a portal in mode none
and against a portal where the victim is signed in (mode local). The request must reach
the portal (its access log shows it) and load nothing. A same-origin form post whose csrf
field was stripped is refused too, while the same post with the field loads.

Signing in: /dashboard sends the browser to /login; a wrong password shows #login-error;
signing in leads back to /dashboard; the upload page shows the user, offers only the
user's regions, and loads a seed file; signing out ends the session. Screenshots go to
Tests/artifacts/login-page.png and login-phone.png (360 px wide)."""
from __future__ import annotations

import http.server
import threading
import urllib.parse
from pathlib import Path

import pytest

import access_support as access
import browser_support
import reference
import support

ARTIFACTS = support.REPO_ROOT / "Tests" / "artifacts"
FINAL = ("loaded", "already_loaded", "rejected", "failed", "error")
WAIT_SECONDS = browser_support.WAIT_SECONDS
ATTACKER_HOST = "127.0.0.2"
PASSWORD = "uma-Upload-Pass-5"
ADMIN_PASSWORD = "ada-Admin-Pass-8"


@pytest.fixture(scope="module")
def browser():
    driver = browser_support.start_chromium(console_log=True)
    yield driver
    driver.quit()


@pytest.fixture
def clean_browser(browser):
    """The browser without cookies of earlier tests (cookies do not tell ports apart)."""
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.get("about:blank")
    return browser


@pytest.fixture
def local_site():
    """A portal in mode local with an uploader of IN and an admin (who has a token too)."""
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create(access.local_auth(), prefix="browser")
    here.add_user("uma", "uploader", ["IN"], password=PASSWORD, token_label=None)
    here.add_user("ada", "admin", ["*"], password=ADMIN_PASSWORD)
    here.start()
    yield here
    here.stop_all()


class Attacker:
    """A second origin: a plain HTTP server on 127.0.0.2 serving pages this test writes."""

    def __init__(self, folder: Path):
        self.folder = folder
        handler = lambda *args, **kwargs: QuietHandler(*args, directory=str(folder), **kwargs)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer((ATTACKER_HOST, 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://{ATTACKER_HOST}:{self.httpd.server_address[1]}/{name}"

    def page(self, name: str, html: str) -> str:
        (self.folder / name).write_text(html)
        return self.url(name)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def attacker(tmp_path_factory):
    here = Attacker(tmp_path_factory.mktemp("attacker"))
    yield here
    here.close()


def js_string(text: str) -> str:
    import json
    return json.dumps(text)


def fetch_attack(portal: str, csv: str) -> str:
    return f"""<!doctype html><title>loading</title><body><script>
var data = new FormData();
data.append("file", new Blob([{js_string(csv)}], {{type: "text/csv"}}), "IN.csv");
fetch({js_string(portal + "/api/uploads")}, {{method: "POST", mode: "no-cors", body: data, credentials: "include"}})
  .then(function () {{ document.title = "sent"; }}, function (error) {{ document.title = "failed: " + error; }});
</script></body>"""


def scripted_form_attack(portal: str, csv: str) -> str:
    return f"""<!doctype html><title>loading</title><body>
<form id="f" method="post" action="{portal}/api/uploads" enctype="multipart/form-data">
<input type="file" name="file" id="file"><input type="hidden" name="region" value="IN"></form>
<script>
var files = new DataTransfer();
files.items.add(new File([{js_string(csv)}], "IN.csv", {{type: "text/csv"}}));
document.getElementById("file").files = files.files;
document.getElementById("f").submit();
</script></body>"""


def plain_form_attack(portal: str) -> str:
    """No script at all: the victim is talked into choosing a file and pressing the button."""
    return f"""<!doctype html><title>win a prize</title><body>
<form id="f" method="post" action="{portal}/api/uploads" enctype="multipart/form-data">
<input type="file" name="file" id="file"><input type="hidden" name="region" value="IN">
<button type="submit" id="go">Claim</button></form></body>"""


def upload_lines(server) -> int:
    return len(access.access_log_lines(server, "POST", "/api/uploads"))


def run_attack(browser, server, attacker: Attacker, kind: str, workdir: Path, first_invoice: int) -> tuple[bytes, str]:
    """Makes the browser run one attack; returns the file's bytes and the status the portal
    logged for the forged POST (so the request is known to have reached it)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path, content = access.unique_csv(workdir, "IN.csv", first_invoice)
    csv = content.decode()
    portal = access.origin_of(server)
    before = upload_lines(server)
    if kind == "fetch":
        browser.get(attacker.page(f"fetch-{first_invoice}.html", fetch_attack(portal, csv)))
        WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.title in ("sent",) or d.title.startswith("failed"))
    elif kind == "scripted form":
        browser.get(attacker.page(f"form-{first_invoice}.html", scripted_form_attack(portal, csv)))
        WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.current_url.startswith(portal))
    else:
        browser.get(attacker.page(f"plain-{first_invoice}.html", plain_form_attack(portal)))
        browser.find_element(By.ID, "file").send_keys(str(path))
        browser.find_element(By.ID, "go").click()
        WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.current_url.startswith(portal))
    lines = access.wait_for("the forged POST in the portal's access log",
                            lambda: access.access_log_lines(server, "POST", "/api/uploads")[before:] or None,
                            WAIT_SECONDS)
    return content, lines[-1].split()[2]


ATTACKS = ["fetch", "scripted form", "plain form"]


@pytest.mark.parametrize("kind", ATTACKS)
def test_a_cross_site_post_loads_nothing_in_mode_none(clean_browser, fresh_server, attacker, kind, tmp_path):
    content, status = run_attack(clean_browser, fresh_server, attacker, kind, tmp_path, 640000)
    assert status == "403", f"the forged POST was answered {status}"
    assert support.history(fresh_server) == [], "a cross-site POST was stored"
    assert support.summary(fresh_server)["orders"] == 0
    assert support.files_with_content(fresh_server.data_dir, content) == []


def sign_in(browser, server, name: str, password: str, next_path: str = "/") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url("/login?next=" + urllib.parse.quote(next_path, safe="")))
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: urllib.parse.urlsplit(d.current_url).path == next_path)


@pytest.mark.parametrize("kind", ATTACKS)
def test_a_cross_site_post_loads_nothing_for_a_signed_in_user(clean_browser, local_site, attacker, kind, tmp_path):
    server = local_site.servers[0]
    admin = local_site.users["ada"]
    sign_in(clean_browser, server, "ada", ADMIN_PASSWORD, "/")
    content, status = run_attack(clean_browser, server, attacker, kind, tmp_path, 650000)
    assert status in ("401", "403"), f"the forged POST was answered {status}"
    assert access.nothing_stored(server, admin.token, content) == []
    assert access.summary_as(server, admin.token)["orders"] == 0
    # The victim's own session still works: the page is theirs and signed in.
    clean_browser.get(server.url("/"))
    assert urllib.parse.urlsplit(clean_browser.current_url).path == "/"


def test_a_same_origin_form_post_needs_its_csrf_field(clean_browser, local_site, seed):
    """The upload form without JavaScript's help: submitted with its hidden csrf field it
    loads; with the field removed the portal refuses it with 403 and stores nothing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser = clean_browser
    server = local_site.servers[0]
    admin = local_site.users["ada"]
    sign_in(browser, server, "ada", ADMIN_PASSWORD, "/")
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "region")).options] \
        == ["", "IN", "UK", "USA"], "an admin is offered every region and the file name"

    def post_native_form(path: Path, strip_csrf: bool) -> None:
        # A copy of the form has none of the page script's listeners: submit() posts it natively.
        browser.execute_script(
            "var form = document.getElementById('upload-form');"
            "var copy = form.cloneNode(true); form.replaceWith(copy);"
            "if (arguments[0]) copy.querySelectorAll('input[name=csrf]').forEach(function (i) { i.remove(); });",
            strip_csrf)
        browser.find_element(By.ID, "file").send_keys(str(path))
        before = upload_lines(server)
        browser.execute_script("document.getElementById('upload-form').submit()")
        access.wait_for("the form's POST in the access log", lambda: upload_lines(server) > before, WAIT_SECONDS)
        WebDriverWait(browser, WAIT_SECONDS).until(lambda d: urllib.parse.urlsplit(d.current_url).path == "/api/uploads")

    browser.get(server.url("/"))
    fields = browser.find_elements(By.CSS_SELECTOR, "#upload-form input[name=csrf]")
    assert len(fields) == 1 and fields[0].get_attribute("type") == "hidden" and fields[0].get_attribute("value")
    post_native_form(seed / "usa.csv", strip_csrf=True)
    assert access.access_log_lines(server, "POST", "/api/uploads")[-1].split()[2] == "403"
    assert "csrf" in browser.find_element(By.TAG_NAME, "body").text.lower()
    assert access.history_as(server, admin.token) == []

    browser.get(server.url("/"))
    post_native_form(seed / "usa.csv", strip_csrf=False)
    assert access.access_log_lines(server, "POST", "/api/uploads")[-1].split()[2] == "200"
    history = access.history_as(server, admin.token)
    assert [(u["region"], u["status"]) for u in history] == [("USA", "loaded")], history


def csp_complaints(browser) -> list[str]:
    try:
        entries = browser.get_log("browser")
    except Exception:  # noqa: BLE001 - a driver without the log endpoint
        return []
    return [e["message"] for e in entries if "Content Security Policy" in e.get("message", "")]


def test_sign_in_upload_and_sign_out(clean_browser, local_site, seed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser = clean_browser
    server = local_site.servers[0]
    csp_complaints(browser)  # drop what earlier tests left in the log

    browser.get(server.url("/dashboard"))
    parts = urllib.parse.urlsplit(browser.current_url)
    assert parts.path == "/login", browser.current_url
    assert urllib.parse.parse_qs(parts.query).get("next") == ["/dashboard"], browser.current_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "login-page.png"))
    error = browser.find_elements(By.ID, "login-error")
    assert not error or not error[0].is_displayed() or not error[0].text.strip()

    # A wrong password: the form again, with the reason.
    browser.find_element(By.ID, "username").send_keys("uma")
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_elements(By.ID, "login-error") and d.find_element(By.ID, "login-error").text.strip())
    assert browser.find_element(By.ID, "login-error").is_displayed()
    assert not browser.get_cookie("sp_session")

    # The right one: back to the dashboard.
    username = browser.find_element(By.ID, "username")
    username.clear()
    username.send_keys("uma")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: urllib.parse.urlsplit(d.current_url).path == "/dashboard")
    cookie = browser.get_cookie("sp_session")
    assert cookie and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict", cookie
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_element(By.ID, "signed-in-user").text.strip() == "uma")

    # The upload page: the user, only IN to choose, and a seed file through it.
    browser.get(server.url("/"))
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_element(By.ID, "signed-in-user").text.strip() == "uma")
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "region")).options] == ["IN"]
    browser.find_element(By.ID, "file").send_keys(str(seed / "IN.csv"))
    row = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "#results tbody.result")
                        if r.get_attribute("data-status") in FINAL), None))
    assert row.get_attribute("data-status") == "loaded"
    want = reference.load_file(str(seed / "IN.csv")).revenue_text
    assert row.find_element(By.CSS_SELECTOR, "td.revenue").get_attribute("data-value") == want
    assert csp_complaints(browser) == [], "the pages break their own Content-Security-Policy"

    # Signing out ends the session for good.
    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: urllib.parse.urlsplit(d.current_url).path == "/login")
    browser.get(server.url("/dashboard"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/login", browser.current_url
    admin = local_site.users["ada"]
    assert [(u["region"], u["status"]) for u in access.history_as(server, admin.token)] == [("IN", "loaded")], "\n".join(server.stdout_lines)


def test_the_login_page_fits_a_phone(clean_browser, local_site):
    browser = clean_browser
    server = local_site.servers[0]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    try:
        browser.get(server.url("/login"))
        inner = browser.execute_script("return window.innerWidth")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert inner == 360
        assert width <= inner, f"the login page is {width}px wide in a {inner}px window"
        for element_id in ("username", "password"):
            box = browser.find_element("id", element_id).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= inner, (element_id, box)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "login-phone.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
