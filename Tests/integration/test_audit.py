"""The audit trail (`GET /api/audit`, the `/audit` page) in mode local: sign-ins (and a failed
one), an upload, a retraction, sign-out, and user and token changes made with the command line
are each listed once, newest first, with who did it; filters by user and kind; pages of
`limit` events chained through `next_before`; only admins may read it."""
from __future__ import annotations

import os
import pwd
import re
import urllib.parse
from datetime import datetime

import pytest

import access_support as access
import retraction_support as rs
import support

COMMAND_LINE = re.compile(r"^command line \((?P<user>[^@()]+)@(?P<host>[^()]+)\)$")


def _audit(server: support.Server, token: str, **query) -> dict:
    text = urllib.parse.urlencode(query)
    response = support.get(server, "/api/audit" + ("?" + text if text else ""), *access.bearer(token))
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    assert set(body) >= {"events", "next_before"}, body
    return body


def _triple(event: dict) -> tuple[str, str, str]:
    return event["kind"], event["user"], event["subject"]


@pytest.fixture
def site():
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    site = access.Site.create(access.local_auth(), prefix="audit")
    try:
        yield site
    finally:
        site.stop_all()


def test_every_action_is_in_the_trail_once_newest_first(site, tmp_path):
    cli = "command line"
    done: list[tuple[str, str, str]] = []        # (kind, user, subject), oldest first

    boss = site.add_user("boss", "admin", ["*"], password="boss-Secret-42-long")
    done += [("user_added", cli, "boss"), ("token_created", cli, "boss")]
    alice = site.add_user("alice", "uploader", ["UK"], password="alice-Secret-42-long")
    done += [("user_added", cli, "alice"), ("token_created", cli, "alice")]
    server = site.start()

    signed = access.login(server, "boss", boss.password, json_answer=True)
    assert signed.status == 200, (signed.status, signed.body)
    cookie = access.session_cookie(signed)
    done.append(("sign_in", "boss", "boss"))
    failed = access.login(server, "alice", "not her password", json_answer=True)
    assert failed.status in (401, 403), (failed.status, failed.body)
    done.append(("sign_in_failed", "alice", "alice"))

    path, _ = access.unique_csv(tmp_path, "UK.csv", 670000)
    upload = rs.upload_one(server, path, *access.bearer(alice.token))
    assert upload["status"] == "loaded" and upload["user"] == "alice", upload
    done.append(("upload", "alice", upload["id"]))
    taken = rs.retract(server, upload["id"], *access.bearer(alice.token))
    assert taken.status == 200, (taken.status, taken.body)
    done.append(("retraction", "alice", upload["id"]))

    site.add_user("carol", "viewer", ["IN"], token_label=None)
    done.append(("user_added", cli, "carol"))
    site.cli("users", "add", "carol", "--role", "uploader", "--regions", "IN")   # an existing name: a change
    done.append(("user_changed", cli, "carol"))
    site.create_token("alice", "nightly")
    done.append(("token_created", cli, "alice"))
    site.cli("tokens", "revoke", "alice", "nightly")
    done.append(("token_revoked", cli, "alice"))
    site.cli("users", "remove", "carol")
    done.append(("user_removed", cli, "carol"))

    # The page, for an admin's session; then the session ends.
    page = support.get(server, "/audit", *access.cookie_args(cookie))
    assert page.status == 200, (page.status, page.body[:300])
    me = support.get(server, "/api/me", *access.cookie_args(cookie))
    csrf = me.json()["csrf"]
    out = access.curl(server.url("/logout"), "-X", "POST", *access.cookie_args(cookie),
                      "-H", f"Origin: {access.origin_of(server)}", "-H", f"X-CSRF-Token: {csrf}")
    assert out.status in (200, 303), (out.status, out.body)
    done.append(("sign_out", "boss", "boss"))

    events = _audit(server, boss.token, limit=500)["events"]
    got = [_triple(e) for e in events]
    # Command-line events name the account and machine they were made from.
    me_user = pwd.getpwuid(os.getuid()).pw_name
    for event in events:
        if event["user"].startswith(cli):
            match = COMMAND_LINE.match(event["user"])
            assert match and match.group("user") == me_user and match.group("host").strip(), event["user"]
    normalized = [(k, cli if u.startswith(cli) else u, s) for k, u, s in got]
    assert normalized == list(reversed(done)), "the trail, newest first, must list each action once"

    stamps = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in events]
    assert stamps == sorted(stamps, reverse=True), [e["at"] for e in events]
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["sign_in"]["address"] == "127.0.0.1" and by_kind["upload"]["address"] == "127.0.0.1"
    assert "UK.csv" in by_kind["upload"]["detail"] and "UK.csv" in by_kind["retraction"]["detail"], by_kind

    # Filters.
    assert [_triple(e) for e in _audit(server, boss.token, user="alice")["events"]] == [
        ("retraction", "alice", upload["id"]), ("upload", "alice", upload["id"]), ("sign_in_failed", "alice", "alice")]
    assert [_triple(e)[2] for e in _audit(server, boss.token, kind="token_created")["events"]] == \
        ["alice", "alice", "boss"]
    assert [_triple(e) for e in _audit(server, boss.token, user="alice", kind="upload")["events"]] == \
        [("upload", "alice", upload["id"])]
    assert _audit(server, boss.token, user="nobody")["events"] == []

    # Pages of two, chained through next_before.
    paged, before, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"before": before} if before else {})}
        page_body = _audit(server, boss.token, **query)
        assert len(page_body["events"]) <= 2, page_body
        paged += page_body["events"]
        pages += 1
        before = page_body["next_before"]
        if before is None:
            break
        assert isinstance(before, str) and before.isdigit(), page_body
        assert pages <= len(events), "paging does not end"
    assert paged == events
    assert pages >= len(events) // 2
    for bad in ("0", "501", "two"):
        response = support.get(server, f"/api/audit?limit={bad}", *access.bearer(boss.token))
        assert response.status == 400 and support.problem(response)[0] == "bad_limit", (bad, response.body)
    response = support.get(server, "/api/audit?before=yesterday", *access.bearer(boss.token))
    assert response.status == 400, (response.status, response.body)

    # Only admins.
    refused = support.get(server, "/api/audit", *access.bearer(alice.token))
    assert refused.status == 403, (refused.status, refused.body)
    anonymous = support.get(server, "/api/audit")
    assert anonymous.status == 401, (anonymous.status, anonymous.body)
    assert "bearer" in anonymous.headers.get("www-authenticate", "").lower()
    for cookies in ((), access.cookie_args(cookie)):     # none, and the session that ended
        page = support.get(server, "/audit", *cookies)
        assert page.status == 303, (page.status, page.body[:300])
        location = page.headers.get("location", "")
        assert location.startswith("/login?next=") and "audit" in urllib.parse.unquote(location), location
    alice_cookie, _ = access.signed_in(server, alice)
    page = support.get(server, "/audit", *access.cookie_args(alice_cookie))
    assert page.status == 403, (page.status, page.body[:300])
    # Reading the trail and the refusals above added nothing to it but alice's sign-in.
    latest = [_triple(e) for e in _audit(server, boss.token, limit=500)["events"]]
    assert latest[0] == ("sign_in", "alice", "alice") and latest[1:] == got, latest[:3]


def test_without_sign_in_the_trail_names_anonymous(fresh_server, seed):
    result = rs.upload_one(fresh_server, seed / "IN.csv")
    assert result["status"] == "loaded" and result["user"] == "anonymous", result
    assert rs.retract(fresh_server, result["id"]).status == 200
    response = support.get(fresh_server, "/api/audit")
    assert response.status == 200, (response.status, response.body)
    assert [_triple(e) for e in response.json()["events"]] == [
        ("retraction", "anonymous", result["id"]), ("upload", "anonymous", result["id"])]
    assert support.get(fresh_server, "/audit").status == 200
