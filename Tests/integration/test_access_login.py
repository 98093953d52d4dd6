"""Signing in and what guards it (README.md, "Local users"), over plain HTTP with curl:
bearer tokens (valid, revoked, of a removed user, garbage), the login form and its cookie,
sign-out, the 401 and 303 answers, login throttling per address and per user, the users
file and the command line keeping secrets secret, mode none refusing a public address,
the Host check, the security headers, and the CSRF rules in modes local and none."""
from __future__ import annotations

import json
import re
import stat
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

import access_support as access
import support

PASSWORDS = {"alice": "alice-Correct-Horse-7", "bob": "bob-Battery-Staple-9", "root": "root-Sup3r-Secret-1"}
ERIN_PASSWORDS = ["erin-First-Pass-1", "erin-Second-Pass-2"]
POLL_SECONDS = 10.0


@pytest.fixture(scope="module")
def site():
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create(access.local_auth(), prefix="login")
    here.add_user("alice", "uploader", ["IN"], password=PASSWORDS["alice"])
    here.add_user("bob", "viewer", ["*"], password=PASSWORDS["bob"])
    here.add_user("root", "admin", ["*"], password=PASSWORDS["root"])
    here.start()
    yield here
    here.stop_all()


@pytest.fixture(scope="module")
def server(site):
    return site.servers[0]


def me(server, *args: str) -> support.Response:
    return support.get(server, "/api/me", *args)


def assert_unauthenticated(response: support.Response) -> None:
    assert response.status == 401, (response.status, response.body)
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    assert response.json()["error"] == "unauthenticated", response.body


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


# --- bearer tokens -------------------------------------------------------------------

def test_a_token_is_printed_once_and_stored_only_as_a_hash(site):
    alice = site.users["alice"]
    assert re.fullmatch(r"[A-Za-z0-9._~+/=-]{20,}", alice.token), alice.token
    text = site.users_file().read_text()
    for user in site.users.values():
        assert user.token is None or user.token not in text, "the users file holds a token itself"
        assert user.password is None or user.password not in text, "the users file holds a password itself"
    second = site.create_token("alice", "second")
    assert second != alice.token


def test_a_valid_token_signs_in_and_garbage_does_not(site, server):
    alice = site.users["alice"]
    response = me(server, *access.bearer(alice.token))
    assert response.status == 200, response.body
    body = response.json()
    assert (body["user"], body["role"], body["regions"], body["mode"]) == ("alice", "uploader", ["IN"], "local")
    changed = alice.token[:-1] + ("A" if alice.token[-1] != "A" else "B")
    for args in (access.bearer("garbage"), access.bearer(changed), access.bearer(alice.token + "x"),
                 ("-H", "Authorization: Bearer"), ("-u", f"alice:{PASSWORDS['alice']}"), ()):
        assert_unauthenticated(me(server, *args))


def test_a_revoked_token_stops_working_at_once_and_the_others_keep_working(site, server):
    bob = site.users["bob"]
    laptop = site.create_token("bob", "laptop")
    assert me(server, *access.bearer(laptop)).status == 200
    site.cli("tokens", "revoke", "bob", "laptop")
    listed = json.loads(site.cli("users", "list", "--json").stdout)
    assert "laptop" not in next(u for u in listed if u["name"] == "bob")["tokens"]
    # The users file is re-read when it changes; allow the server a moment to notice.
    access.wait_for("the revoked token is refused", lambda: me(server, *access.bearer(laptop)).status == 401,
                    POLL_SECONDS)
    assert_unauthenticated(me(server, *access.bearer(laptop)))
    assert me(server, *access.bearer(bob.token)).status == 200


def test_a_removed_user_loses_tokens_and_sessions(site, server):
    carol = site.add_user("carol", "viewer", ["UK"], password="carol-Pass-Word-3")
    cookie, _ = access.signed_in(server, carol)
    assert me(server, *access.bearer(carol.token)).status == 200
    site.cli("users", "remove", "carol")
    access.wait_for("the removed user's token is refused",
                    lambda: me(server, *access.bearer(carol.token)).status == 401, POLL_SECONDS)
    assert_unauthenticated(me(server, *access.cookie_args(cookie)))
    names = [u["name"] for u in json.loads(site.cli("users", "list", "--json").stdout)]
    assert "carol" not in names


# --- answers without credentials --------------------------------------------------------

def test_api_routes_answer_401_and_pages_redirect_to_login_with_next(server):
    for path in ("/api/me", "/api/report/summary", "/api/uploads"):
        assert_unauthenticated(support.get(server, path))
    target = "/dashboard?region=IN&from=2011-01-01"
    response = support.get(server, target)
    assert response.status == 303, (response.status, response.body)
    location = response.headers["location"]
    parts = urllib.parse.urlsplit(location)
    assert parts.path == "/login" and not parts.netloc, location
    assert urllib.parse.parse_qs(parts.query) == {"next": [target]}, location
    assert "%3F" in parts.query.upper() and "%26" in parts.query.upper(), f"next is not percent-encoded: {location}"
    home = support.get(server, "/")
    assert home.status == 303
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(home.headers["location"]).query) == {"next": ["/"]}


def test_the_login_form_and_open_routes_need_no_credentials(server):
    page = support.get(server, "/login")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    for marker in ('id="login-form"', 'id="username"', 'id="password"', 'type="submit"'):
        assert marker in html, marker
    for path in ("/healthz", "/readyz", "/app.css", "/app.js", "/dashboard.js", "/dashboard.css", "/favicon.svg"):
        assert support.get(server, path).status == 200, path


# --- signing in and out -------------------------------------------------------------------

def test_login_sets_a_strict_http_only_cookie_that_signs_in(site, server):
    response = access.login(server, "alice", PASSWORDS["alice"], next_path="/dashboard")
    assert response.status == 303, (response.status, response.body)
    assert response.headers["location"] in ("/dashboard", access.origin_of(server) + "/dashboard")
    header = access.session_set_cookie(response)
    cookie = access.session_cookie(response)
    attributes = access.cookie_attributes(header)
    assert "httponly" in attributes, header
    assert attributes.get("samesite", "").lower() == "strict", header
    assert attributes.get("path") == "/", header
    assert "secure" not in attributes, f"plain HTTP on loopback must not get a Secure cookie: {header}"
    assert PASSWORDS["alice"] not in header
    answer = me(server, *access.cookie_args(cookie))
    assert answer.status == 200, answer.body
    body = answer.json()
    assert (body["user"], body["role"], body["regions"], body["mode"]) == ("alice", "uploader", ["IN"], "local")
    assert isinstance(body["csrf"], str) and len(body["csrf"]) >= 16
    assert support.get(server, "/dashboard", *access.cookie_args(cookie)).status == 200


def test_login_for_scripts_answers_json(server):
    response = access.login(server, "bob", PASSWORDS["bob"], json_answer=True)
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    assert {k: body.get(k) for k in ("user", "role", "regions")} == {"user": "bob", "role": "viewer", "regions": ["*"]}
    assert me(server, *access.cookie_args(access.session_cookie(response))).status == 200


def test_login_goes_only_to_our_own_paths(server):
    assert access.login(server, "bob", PASSWORDS["bob"]).headers["location"] in ("/", access.origin_of(server) + "/")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example/x", "\\\\evil.example",
                   "javascript:alert(1)", "http://evil.example@127.0.0.1/", " //evil.example"):
        response = access.login(server, "bob", PASSWORDS["bob"], next_path=target)
        assert response.status == 303, (target, response.status)
        location = response.headers["location"]
        local = location[len(access.origin_of(server)):] if location.startswith(access.origin_of(server)) else location
        assert local.startswith("/") and not local.startswith(("//", "/\\")), (target, location)
        assert "evil" not in location, (target, location)


def test_bad_credentials_are_401_alike_for_a_wrong_password_and_an_unknown_user(server):
    wrong = access.login(server, "alice", "not-her-password", json_answer=True)
    unknown = access.login(server, "nobody-here", "whatever", json_answer=True)
    for response in (wrong, unknown):
        assert response.status == 401, (response.status, response.body)
        assert response.json()["error"] == "bad_credentials"
        assert not access.session_cookie_value(response), response.headers
    assert wrong.json() == unknown.json(), "the answers tell a wrong password from an unknown user"
    form = access.login(server, "alice", "not-her-password", extra=("-H", "Accept: text/html"))
    assert form.status == 401
    assert form.headers["content-type"].startswith("text/html")
    assert 'id="login-form"' in form.body.decode() and 'id="login-error"' in form.body.decode()


def test_logout_needs_the_csrf_token_and_ends_the_session(site, server):
    alice = site.users["alice"]
    own = ("-H", f"Origin: {access.origin_of(server)}")
    cookie, token = access.signed_in(server, alice)
    refused = access.curl(server.url("/logout"), "--data", "", *own, *access.cookie_args(cookie))
    assert refused.status == 403 and refused.json()["error"] == "csrf", (refused.status, refused.body)
    assert me(server, *access.cookie_args(cookie)).status == 200, "a refused sign-out ended the session"

    done = access.curl(server.url("/logout"), "--data", "", *own, "-H", f"X-CSRF-Token: {token}",
                        *access.cookie_args(cookie))
    assert done.status == 303, (done.status, done.body)
    assert urllib.parse.urlsplit(done.headers["location"]).path == "/login"
    cleared = access.session_set_cookie(done)
    attributes = access.cookie_attributes(cleared)
    assert cleared.startswith("sp_session=") and (
        attributes.get("max-age") == "0" or "expires" in attributes or cleared.startswith("sp_session=;")), cleared
    assert_unauthenticated(me(server, *access.cookie_args(cookie)))

    # The page's sign-out form sends the token as a form field.
    cookie, token = access.signed_in(server, alice)
    done = access.curl(server.url("/logout"), "--data-urlencode", f"csrf={token}", *own, *access.cookie_args(cookie))
    assert done.status == 303, (done.status, done.body)
    assert_unauthenticated(me(server, *access.cookie_args(cookie)))


def test_a_changed_or_foreign_cookie_is_refused(site, server):
    cookie, _ = access.signed_in(server, site.users["bob"])
    name, _, value = cookie.partition("=")
    for forged in (value[:-1] + ("A" if value[-1] != "A" else "B"), value[: len(value) // 2], "x" + value, ""):
        assert_unauthenticated(me(server, "-H", f"Cookie: {name}={forged}"))
    assert me(server, *access.cookie_args(cookie)).status == 200


def test_the_generated_session_key_is_private(site, server):
    key = site.data_dir / "session.key"
    assert key.exists(), "no session key was generated in the data folder"
    assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0, f"session.key is mode {oct(key.stat().st_mode)}"


def test_a_session_is_good_on_every_replica_that_shares_the_key(tmp_path):
    """The cookie is signed, not remembered: a second server with the same users file and
    session key accepts it; a server with another key does not."""
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    users_file = tmp_path / "users.json"
    shared_key = "5f" * 32
    servers = []
    try:
        for name, key in (("a", shared_key), ("b", shared_key), ("c", "a7" * 32)):
            data = tmp_path / name
            data.mkdir()
            config = access.write_config(tmp_path, access.local_auth(usersFile=str(users_file), sessionKey=key),
                                         name=f"config-{name}.json")
            if name == "a":
                added = access.run("users", "add", "rita", "--role", "viewer", "--regions", "IN", "--password-stdin",
                                   "--config", str(config), "--data-dir", str(data), stdin="rita-Replica-Pass-4\n")
                assert added.returncode == 0, added.stderr
            servers.append(support.Server(data_dir=data, config=config).start())
        first, second, other = servers
        response = access.login(first, "rita", "rita-Replica-Pass-4", json_answer=True)
        assert response.status == 200, (response.status, response.body)
        cookie = access.session_cookie(response)
        assert me(second, *access.cookie_args(cookie)).json()["user"] == "rita"
        assert_unauthenticated(me(other, *access.cookie_args(cookie)))
    finally:
        codes = [server.stop() for server in servers]
        assert codes == [0] * len(servers), f"exit codes on SIGTERM: {codes}"


# --- throttling ------------------------------------------------------------------------

@pytest.fixture
def throttled():
    """A server that blocks after 3 failures per user and address, or 5 per address, within 60 s."""
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create(access.local_auth(maxFailuresPerUser=3, maxFailuresPerAddress=5, loginWindowSeconds=60),
                              prefix="throttle")
    here.add_user("alice", "uploader", ["IN"], password=PASSWORDS["alice"], token_label=None)
    here.add_user("bob", "viewer", ["*"], password=PASSWORDS["bob"], token_label=None)
    yield here.start()
    here.stop_all()


def assert_too_many(response: support.Response, window: int) -> None:
    assert response.status == 429, (response.status, response.body)
    assert response.json()["error"] == "too_many_attempts"
    retry = response.headers.get("retry-after", "")
    assert retry.isdigit() and 1 <= int(retry) <= window, f"Retry-After {retry!r}"
    assert not access.session_cookie_value(response), response.headers


def test_failures_for_one_user_block_that_user_from_that_address_only(throttled):
    statuses = [access.login(throttled, "alice", f"wrong-{i}", source="127.0.0.2", json_answer=True).status
                for i in range(3)]
    assert statuses[:2] == [401, 401] and statuses[2] in (401, 429), statuses
    # Now even the right password is refused from there...
    assert_too_many(access.login(throttled, "alice", PASSWORDS["alice"], source="127.0.0.2", json_answer=True), 60)
    # ...but not from another address, and not for another user from there.
    here = access.login(throttled, "alice", PASSWORDS["alice"], source="127.0.0.1", json_answer=True)
    assert here.status == 200, (here.status, here.body)
    other = access.login(throttled, "bob", PASSWORDS["bob"], source="127.0.0.2", json_answer=True)
    assert other.status == 200, (other.status, other.body)


def test_failures_from_one_address_block_it_for_every_user(throttled):
    statuses = [access.login(throttled, f"guess-{i}", "wrong", source="127.0.0.3", json_answer=True).status
                for i in range(5)]
    assert statuses[:4] == [401] * 4 and statuses[4] in (401, 429), statuses
    assert_too_many(access.login(throttled, "bob", PASSWORDS["bob"], source="127.0.0.3", json_answer=True), 60)
    form = access.login(throttled, "bob", PASSWORDS["bob"], source="127.0.0.3", extra=("-H", "Accept: text/html"))
    assert form.status == 429 and form.headers.get("retry-after", "").isdigit(), (form.status, form.headers)
    here = access.login(throttled, "bob", PASSWORDS["bob"], source="127.0.0.1", json_answer=True)
    assert here.status == 200, (here.status, here.body)


def test_the_block_ends_with_the_window():
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create(access.local_auth(maxFailuresPerUser=2, loginWindowSeconds=3), prefix="window")
    try:
        here.add_user("alice", "uploader", ["IN"], password=PASSWORDS["alice"], token_label=None)
        server = here.start()
        for i in range(2):
            access.login(server, "alice", f"wrong-{i}", json_answer=True)
        blocked = access.login(server, "alice", PASSWORDS["alice"], json_answer=True)
        assert_too_many(blocked, 3)
        # The block is a matter of time, so waiting out Retry-After is the test itself.
        time.sleep(int(blocked.headers["retry-after"]) + 0.5)
        again = access.login(server, "alice", PASSWORDS["alice"], json_answer=True)
        assert again.status == 200, (again.status, again.body, "after Retry-After passed")
    finally:
        here.stop_all()


# --- secrets on disk and in output -------------------------------------------------------

def secret_strings(users_file: Path) -> list[str]:
    """The hashes and salts of the users file: long strings, and the long parts of
    `scheme$iterations$salt$hash` forms, so that a part printed alone is caught too."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            if len(node) >= 32:
                found.append(node)
            found.extend(part for part in re.split(r"[$:]", node) if len(part) >= 16 and part != node)

    walk(json.loads(users_file.read_text()))
    return found


def test_the_users_file_is_private_and_no_secret_is_ever_printed(site, server):
    path = site.users_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    added = site.cli("users", "add", "dave", "--role", "viewer", "--regions", "IN")
    site.users["dave"] = access.User("dave", "viewer", ["IN"], token=site.create_token("dave", "ci"))
    # A user added, then given a new password: the file is written twice more.
    changed = site.cli("users", "add", "erin", "--role", "viewer", "--regions", "UK", "--password-stdin",
                       stdin=ERIN_PASSWORDS[0] + "\n")
    again = site.cli("users", "add", "erin", "--role", "viewer", "--regions", "UK", "--password-stdin",
                     stdin=ERIN_PASSWORDS[1] + "\n")
    assert access.login(server, "erin", ERIN_PASSWORDS[0], json_answer=True).status == 401
    assert access.login(server, "erin", ERIN_PASSWORDS[1], json_answer=True).status == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "rewriting the users file loosened its mode"
    secrets = secret_strings(path)
    assert secrets, f"no password or token hashes found in {path}"
    listing = site.cli("users", "list")
    listing_json = site.cli("users", "list", "--json")
    entries = {u["name"]: u for u in json.loads(listing_json.stdout)}
    alice = {k: entries["alice"].get(k) for k in ("name", "role", "regions", "password")}
    assert alice == {"name": "alice", "role": "uploader", "regions": ["IN"], "password": True}, entries["alice"]
    assert "main" in entries["alice"]["tokens"], entries["alice"]
    assert entries["dave"]["password"] is False and entries["dave"]["tokens"] == ["ci"], entries["dave"]
    assert entries["bob"]["regions"] == ["*"] and entries["root"]["role"] == "admin"
    # Some failed and some good logins, so that the server has had every chance to log secrets.
    access.login(server, "alice", "a-wrong-password-123", json_answer=True)
    access.login(server, "alice", PASSWORDS["alice"], json_answer=True)
    outputs = {"users list": listing.stdout + listing.stderr, "users list --json": listing_json.stdout + listing_json.stderr,
               "users add": "".join(d.stdout + d.stderr for d in (added, changed, again)),
               "/api/me": me(server, *access.bearer(site.users["alice"].token)).body.decode(errors="replace"),
               "server stderr": server.log_path.read_text(errors="replace"),
               "server stdout": "\n".join(server.stdout_lines)}
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"{where} shows a hash from the users file"
        for password in list(PASSWORDS.values()) + ERIN_PASSWORDS + ["a-wrong-password-123"]:
            assert password not in text, f"{where} shows a password"
        for user in site.users.values():
            if user.token:
                assert user.token not in text, f"{where} shows a token"


def test_a_bad_role_or_region_is_refused_by_the_command_line(site):
    for args in (("users", "add", "eve", "--role", "superuser"), ("users", "add", "eve", "--role", "viewer", "--regions", "MARS")):
        done = site.cli(*args, check=False)
        assert done.returncode != 0, f"{args} was accepted"
    names = [u["name"] for u in json.loads(site.cli("users", "list", "--json").stdout)]
    assert "eve" not in names


# --- mode none and the bound address -----------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_mode_none_refuses_a_public_address(host):
    with tempfile.TemporaryDirectory() as data:
        try:
            done = access.run("serve", "--host", host, "--port", "0", "--data-dir", data, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve --host {host} in mode none did not exit (it must refuse to start)")
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "listening on" not in done.stdout
    assert re.search(r"auth|none|loopback", done.stderr, re.IGNORECASE), f"stderr does not say why: {done.stderr!r}"


def test_mode_none_refuses_a_public_name_behind_a_proxy():
    """Loopback behind a reverse proxy that serves a public name would make every visitor an admin."""
    with tempfile.TemporaryDirectory() as data:
        done = access.run("serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", data, timeout=20,
                          env={"SALES_PORTAL_ALLOWED_HOSTS": "localhost:8080,sales.example.com"})
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "sales.example.com" in done.stderr and "listening on" not in done.stdout


def test_the_environment_chooses_the_mode(tmp_path):
    """SALES_PORTAL_AUTH_MODE overrides the file: none → refuses 0.0.0.0; local → 401."""
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    config = access.write_config(tmp_path, access.local_auth())
    done = access.run("serve", "--config", str(config), "--host", "0.0.0.0", "--port", "0",
                      "--data-dir", str(tmp_path / "a"), env={"SALES_PORTAL_AUTH_MODE": "none"}, timeout=20)
    assert done.returncode == 2, (done.returncode, done.stderr)
    data = tmp_path / "b"
    data.mkdir()
    added = access.run("users", "add", "someone", "--role", "viewer", "--regions", "IN", "--data-dir", str(data),
                       env={"SALES_PORTAL_AUTH_MODE": "local"})
    assert added.returncode == 0, added.stderr
    server = support.Server(data_dir=data, env={"SALES_PORTAL_AUTH_MODE": "local"}).start()
    try:
        assert_unauthenticated(me(server))
    finally:
        support.stop_and_check(server)


# --- Host -------------------------------------------------------------------------------

def test_a_foreign_host_is_misdirected(site, server):
    token = site.users["root"].token
    for path in ("/api/me", "/", "/login", "/api/report/summary", "/app.js"):
        response = support.get(server, path, "-H", "Host: evil.example", *access.bearer(token))
        assert response.status == 421, (path, response.status, response.body)
        assert response.json()["error"] == "misdirected_request", (path, response.body)
    wrong_port = support.get(server, "/login", "-H", f"Host: 127.0.0.1:{server.port + 1}")
    assert wrong_port.status == 421, "the port is part of the allowed host"
    for path in ("/healthz", "/readyz"):
        assert support.get(server, path, "-H", "Host: evil.example").status == 200, path
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
        response = support.get(server, "/login", "-H", f"Host: {host}")
        assert response.status == 200, (host, response.status, response.body)


def test_a_foreign_host_is_misdirected_in_mode_none_too(fresh_server):
    response = support.get(fresh_server, "/api/uploads", "-H", "Host: rebound.example")
    assert response.status == 421, (response.status, response.body)
    assert response.json()["error"] == "misdirected_request"
    assert support.get(fresh_server, "/api/uploads").status == 200


# --- security headers -----------------------------------------------------------------------

def check_security_headers(response: support.Response, where: str, hsts: bool = False) -> None:
    headers = response.headers
    assert headers.get("x-content-type-options", "").lower() == "nosniff", (where, headers)
    assert headers.get("referrer-policy", "").lower() == "same-origin", (where, headers)
    policy = headers.get("content-security-policy", "")
    directives = csp_directives(policy)
    assert "'self'" in directives.get("default-src", []), (where, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (where, policy)
    assert "'unsafe-inline'" not in policy, (where, policy)
    if hsts:
        value = headers.get("strict-transport-security", "")
        match = re.search(r"max-age=(\d+)", value)
        assert match and int(match.group(1)) > 0, (where, value)
    else:
        assert "strict-transport-security" not in headers, (where, headers)


def test_every_answer_carries_the_security_headers(site, server):
    token = site.users["root"].token
    cases = {
        "page": support.get(server, "/", *access.bearer(token)),
        "dashboard": support.get(server, "/dashboard", *access.bearer(token)),
        "login page": support.get(server, "/login"),
        "script": support.get(server, "/app.js"),
        "health": support.get(server, "/healthz"),
        "401": support.get(server, "/api/me"),
        "303": support.get(server, "/dashboard"),
        "404": support.get(server, "/api/nope", *access.bearer(token)),
        "421": support.get(server, "/login", "-H", "Host: evil.example"),
        "bad login": access.login(server, "alice", "wrong", json_answer=True),
        "report": support.get(server, "/api/report/summary", *access.bearer(token)),
    }
    for where, response in cases.items():
        check_security_headers(response, f"{where} ({response.status})")
    assert cases["page"].status == 200 and cases["401"].status == 401 and cases["421"].status == 421


def test_hsts_is_sent_when_configured():
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create({**access.local_auth(), "server": {"hsts": True}}, prefix="hsts")
    try:
        server = here.start()
        for path in ("/healthz", "/login", "/api/me"):
            check_security_headers(support.get(server, path), path, hsts=True)
    finally:
        here.stop_all()


# --- CSRF --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def csrf_files(tmp_path_factory):
    """A supply of distinct small IN files: each call gives a new one."""
    folder = tmp_path_factory.mktemp("csrf")
    counter = [0]

    def make() -> tuple[Path, bytes]:
        counter[0] += 1
        sub = folder / str(counter[0])
        sub.mkdir()
        return access.unique_csv(sub, "IN.csv", 600000 + counter[0] * 100)
    return make


def post_upload(server, path: Path, *args: str, csrf_field: str | None = None) -> support.Response:
    fields = ("-F", f"csrf={csrf_field}") if csrf_field is not None else ()
    return support.curl(server.url("/api/uploads"), *fields, "-F", f"file=@{path}", *args, timeout=120)


def test_csrf_rules_for_a_signed_in_browser(site, server, csrf_files):
    alice, root = site.users["alice"], site.users["root"]
    cookie, token = access.signed_in(server, alice)
    _, bobs_token = access.signed_in(server, site.users["bob"])
    own = access.origin_of(server)
    jar = access.cookie_args(cookie)
    refused = {
        "foreign Origin": ("-H", "Origin: http://evil.example", "-H", f"X-CSRF-Token: {token}"),
        "Origin null": ("-H", "Origin: null", "-H", f"X-CSRF-Token: {token}"),
        "other port": ("-H", f"Origin: http://127.0.0.1:{server.port + 1}", "-H", f"X-CSRF-Token: {token}"),
        "no token": ("-H", f"Origin: {own}"),
        "wrong token": ("-H", f"Origin: {own}", "-H", "X-CSRF-Token: 0123456789abcdef0123456789abcdef"),
        "another session's token": ("-H", f"Origin: {own}", "-H", f"X-CSRF-Token: {bobs_token}"),
        "foreign Referer": ("-H", "Referer: http://evil.example/page", "-H", f"X-CSRF-Token: {token}"),
        "neither Origin nor Referer": ("-H", f"X-CSRF-Token: {token}"),
    }
    problems = []
    for case, args in refused.items():
        path, content = csrf_files()
        response = post_upload(server, path, *jar, *args)
        if response.status != 403 or response.json().get("error") != "csrf":
            problems.append(f"{case}: want 403 csrf, got {response.status} {response.body[:200]!r}")
        problems += [f"{case}: {p}" for p in access.nothing_stored(server, root.token, content)]
    path, content = csrf_files()
    response = post_upload(server, path, *jar, "-H", f"Origin: {own}", csrf_field="also-wrong")
    if response.status != 403:
        problems.append(f"a wrong form field: want 403, got {response.status}")
    accepted = {
        "own Origin and the header": (("-H", f"Origin: {own}", "-H", f"X-CSRF-Token: {token}"), None),
        "own Referer and the header": (("-H", f"Referer: {own}/", "-H", f"X-CSRF-Token: {token}"), None),
        "own Origin and the form field": (("-H", f"Origin: {own}"), token),
        "a bearer token from anywhere": (("-H", "Origin: http://evil.example", *access.bearer(alice.token)), None),
    }
    for case, (args, field) in accepted.items():
        path, content = csrf_files()
        response = post_upload(server, path, *(jar if "bearer" not in case else ()), *args, csrf_field=field)
        if response.status != 200 or [u["status"] for u in response.json().get("uploads", [])] != ["loaded"]:
            problems.append(f"{case}: want 200 loaded, got {response.status} {response.body[:200]!r}")
    assert not problems, "\n".join(problems)


def test_csrf_in_mode_none_refuses_foreign_origins_and_keeps_curl_working(fresh_server, csrf_files):
    server = fresh_server
    problems = []
    for case, args in {"foreign Origin": ("-H", "Origin: http://evil.example"),
                       "Origin null": ("-H", "Origin: null"),
                       "foreign Referer": ("-H", "Referer: http://evil.example/x")}.items():
        path, content = csrf_files()
        response = post_upload(server, path, *args)
        if response.status != 403 or response.json().get("error") != "csrf":
            problems.append(f"{case}: want 403 csrf, got {response.status} {response.body[:200]!r}")
        problems += [f"{case}: {p}" for p in access.nothing_stored(server, None, content)]
    # The pages' requests carry the token (in mode none /api/me gives it too).
    token = support.get(server, "/api/me").json()["csrf"]
    for case, args in {"plain curl": (),
                       "own Origin and the token": ("-H", f"Origin: {access.origin_of(server)}",
                                                    "-H", f"X-CSRF-Token: {token}")}.items():
        path, _ = csrf_files()
        response = post_upload(server, path, *args)
        if response.status != 200:
            problems.append(f"{case}: want 200, got {response.status} {response.body[:200]!r}")
    assert not problems, "\n".join(problems)
