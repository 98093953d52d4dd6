"""Logs an operator can feed to Cloud Logging: with server.logFormat = "json" every line the
server writes (standard output and error) is one JSON object with severity, time and message;
each request has an id (the client's X-Request-Id, a W3C traceparent's trace id, or a new one)
that the answer returns and every line about the request carries; no secret is ever in a line."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

import access_support as access
import support

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SEVERITIES = {"DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def site():
    created = access.Site.create({**access.local_auth(), "server": {"logFormat": "json"}},
                                 env={"GOOGLE_CLOUD_PROJECT": "acme-sales"}, prefix="logs")
    yield created
    created.stop_all()


def _lines(server: support.Server) -> list[dict]:
    text = "\n".join(server.stdout_lines) + "\n" + server.log_path.read_text(errors="replace")
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)  # every line is JSON: this raises on one that is not
        assert isinstance(entry, dict), line
        assert entry.get("severity") in SEVERITIES, line
        assert TIME.match(entry.get("time", "")), line
        assert isinstance(entry.get("message"), str) and entry["message"], line
        entries.append(entry)
    return entries


def test_every_line_is_json_with_the_request_id_and_no_secret(site, tmp_path):
    password = "Correct-Horse-Battery-7"
    admin = site.add_user("ada", "admin", password=password, token_label="scripts")
    server = site.start()
    cookie, csrf = access.signed_in(server, admin)

    # The client's own id, echoed and logged.
    health = access.curl(server.url("/healthz"), "-H", "X-Request-Id: deploy-check-42")
    assert health.status == 200 and health.headers.get("x-request-id") == "deploy-check-42"
    # A traceparent: its trace id becomes the request id and the Cloud Logging trace.
    traced = access.curl(server.url("/api/uploads"), *access.bearer(admin.token),
                         "-H", f"traceparent: 00-{TRACE}-00f067aa0ba902b7-01")
    assert traced.status == 200 and traced.headers.get("x-request-id") == TRACE
    # No id given: one is made, and it differs from request to request.
    made = [access.curl(server.url("/healthz")).headers.get("x-request-id") for _ in range(2)]
    assert all(made) and made[0] != made[1]
    # A bad id (a space, a line break attempt) is not taken.
    bad = access.curl(server.url("/healthz"), "-H", "X-Request-Id: two words")
    assert bad.headers.get("x-request-id") not in (None, "two words")
    # An upload with a token, and one with the session cookie; a failing one.
    path, _ = access.unique_csv(tmp_path, "IN.csv", 880100)
    uploaded = access.upload_as(server, admin.token, path, extra=("-H", "X-Request-Id: nightly-IN-7"))
    assert uploaded.status == 200, uploaded.body
    assert uploaded.headers.get("x-request-id") == "nightly-IN-7"
    upload_id = support.uploads_of(uploaded)[0]["id"]
    # The upload record keeps the request's id: the history leads from a file to its log lines.
    assert support.uploads_of(uploaded)[0]["request_id"] == "nightly-IN-7"
    record = access.curl(server.url(f"/api/uploads/{upload_id}"), *access.bearer(admin.token))
    assert json.loads(record.body)["request_id"] == "nightly-IN-7", record.body
    with_cookie = support.upload(server, path, extra=(*access.cookie_args(cookie), "-F", f"csrf={csrf}",
                                                      "-H", f"Origin: {access.origin_of(server)}"))
    assert with_cookie.status == 200, with_cookie.body
    wrong = access.login(server, "ada", "not-the-password", json_answer=True)
    assert wrong.status == 401
    assert server.stop() == 0

    entries = _lines(server)
    by_id = {}
    for entry in entries:
        if "requestId" in entry:
            by_id.setdefault(entry["requestId"], []).append(entry)
    [check] = by_id["deploy-check-42"]
    assert check["httpRequest"]["requestMethod"] == "GET" and check["httpRequest"]["status"] == 200
    assert check["httpRequest"]["requestUrl"] == "/healthz"
    assert check["httpRequest"]["latency"].endswith("s")
    [listed] = by_id[TRACE]
    assert listed["logging.googleapis.com/trace"] == f"projects/acme-sales/traces/{TRACE}"
    # The upload request: its access line and the line that says what became of the file.
    upload_lines = by_id[uploaded.headers["x-request-id"]]
    assert any(e.get("httpRequest", {}).get("status") == 200 for e in upload_lines)
    assert any(e["message"].startswith(f"upload {upload_id} of IN.csv by ada: loaded") for e in upload_lines), upload_lines
    assert any(e["severity"] == "NOTICE" and e["message"].startswith("listening on http://") for e in entries)
    assert any(e.get("httpRequest", {}).get("status") == 401 and e["severity"] == "WARNING" for e in entries)

    everything = "\n".join(json.dumps(e) for e in entries)
    session = cookie.split("=", 1)[1]
    for secret in (password, admin.token, session, csrf, "not-the-password"):
        assert secret not in everything, f"a secret is in the logs: {secret[:4]}…"


def test_text_lines_carry_the_request_id(tmp_path):
    """Plain text for a terminal (the default): the access line ends with the request id, and
    the line about the uploaded file names it too."""
    server = support.start_server(log_format="text")
    try:
        path, _ = access.unique_csv(tmp_path, "IN.csv", 880200)
        response = support.upload(server, path)
        assert response.status == 200
        request_id = response.headers.get("x-request-id")
        assert request_id
        # An id the server made is the record's too.
        assert support.uploads_of(response)[0]["request_id"] == request_id
        support.wait_for("the access line", lambda: any(
            line.startswith("POST /api/uploads 200 ") and line.endswith(" " + request_id) for line in server.stdout_lines), 10)
        log = server.log_path.read_text()
        assert any(line.startswith("upload ") and line.endswith(f"[{request_id}]") for line in log.splitlines()), log[-2000:]
    finally:
        support.stop_and_check(server)


def test_a_configuration_error_is_a_json_entry_when_the_environment_asks_for_json(tmp_path):
    """SALES_PORTAL_LOG_FORMAT=json holds before the configuration is read: a platform that reads
    JSON lines sees why the server did not start as an entry of severity ERROR."""
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"server": {"port": 70000}}))
    command = [str(support.binary_path()), "serve", "--config", str(config), "--data-dir", str(tmp_path / "data")]
    as_json = subprocess.run(command, env={**os.environ, "SALES_PORTAL_LOG_FORMAT": "json"}, capture_output=True,
                             text=True, timeout=30)
    assert as_json.returncode == 2 and as_json.stdout == ""
    [line] = as_json.stderr.splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "ERROR" and TIME.match(entry["time"]), entry
    assert entry["message"] == "sales-portal: invalid configuration: server.port must be 0…65535"
    as_text = subprocess.run(command, env={**os.environ, "SALES_PORTAL_LOG_FORMAT": "text"}, capture_output=True,
                             text=True, timeout=30)
    assert as_text.returncode == 2
    assert as_text.stderr == "sales-portal: invalid configuration: server.port must be 0…65535\n"
