"""Taking an upload back (`DELETE /api/uploads/{id}`) in the embedded deployment: its rows
leave every report (the reports equal the reference over the files of the live uploads),
rows another upload had skipped as its duplicates come back, the same bytes load again,
who may retract what, a retraction refused while the load runs, a retraction cut short by
SIGKILL finished on the next start, and the raw files of rejected uploads removed after
`storage.rejectedFileRetentionDays`."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

import access_support as access
import reference
import retraction_support as rs
import support

UK_ROWS = 4000
KILL_ROWS = int(os.environ.get("RETRACTION_KILL_ROWS", "1000000"))
"""Rows of the file whose retraction is killed: large enough that deleting them takes seconds."""
LOADING_ROWS = 500_000
"""Rows of the file still loading when its retraction is asked for."""


@pytest.fixture(scope="module")
def uk_file(tmp_path_factory) -> tuple[Path, reference.FileResult]:
    path = rs.generate(tmp_path_factory.mktemp("uk") / "UK.csv", UK_ROWS, seed=11)
    return path, reference.load_file(str(path))


@pytest.fixture(scope="module")
def seed_results(seed) -> list[reference.FileResult]:
    return [reference.load_file(str(seed / "IN.csv")), reference.load_file(str(seed / "usa.csv"))]


def _load_seed(server: support.Server, seed: Path) -> None:
    for name in ("IN.csv", "usa.csv"):
        result = rs.upload_one(server, seed / name)
        assert result["status"] == "loaded", result


def _object_path(record: dict) -> Path:
    uri = record["object_uri"]
    assert uri.startswith("file://"), uri
    return Path(urlparse(uri).path)


# --- what a retraction does to the reports --------------------------------------------------

def test_retracted_upload_leaves_every_report_and_loads_again(fresh_server, seed, seed_results, uk_file):
    uk_path, uk = uk_file
    _load_seed(fresh_server, seed)
    first = rs.upload_one(fresh_server, uk_path)
    assert first["status"] == "loaded", first
    assert first["rows"]["loaded"] == uk.loaded and first["user"] == "anonymous", first
    everything = [*seed_results, uk]
    assert rs.report_mismatches(fresh_server, everything) == []
    before = rs.summary_of(fresh_server)
    # Report differences are gathered and asserted at the end, so that one run shows them all.
    problems: list[str] = []

    response = rs.retract(fresh_server, first["id"])
    assert response.status == 200, (response.status, response.body)
    answer = response.json()
    assert answer["id"] == first["id"] and answer["status"] == "retracted", answer
    assert answer["retracted_by"] == "anonymous" and answer["user"] == "anonymous", answer
    assert isinstance(answer["retracted_at"], str) and answer["retracted_at"] >= first["created_at"], answer
    assert answer["sha256"] == first["sha256"] and answer["rows"] == first["rows"], answer
    assert _object_path(answer).read_bytes() == uk_path.read_bytes(), "the raw file must stay"

    problems += ["after the retraction: " + p for p in rs.report_mismatches(fresh_server, seed_results, gone=[uk])]
    stored = rs.record(fresh_server, first["id"])
    assert (stored["status"], stored["retracted_by"], stored["retracted_at"]) == \
        ("retracted", "anonymous", answer["retracted_at"]), stored
    listed = {u["id"]: u["status"] for u in support.history(fresh_server)}
    assert listed[first["id"]] == "retracted", listed

    again = rs.retract(fresh_server, first["id"])
    assert again.status == 200, (again.status, again.body)
    assert again.json() == stored, "retracting again must change nothing"
    problems += ["after retracting again: " + p for p in rs.report_mismatches(fresh_server, seed_results)]

    reloaded = rs.upload_one(fresh_server, uk_path)
    assert reloaded["status"] == "loaded", reloaded
    assert reloaded["id"] != first["id"]
    assert reloaded["rows"] == first["rows"] and reloaded["revenue"] == first["revenue"], reloaded
    assert rs.summary_of(fresh_server) == before
    problems += ["after loading it again: " + p for p in rs.report_mismatches(fresh_server, everything)]
    assert rs.record(fresh_server, first["id"])["status"] == "retracted"
    assert problems == []


def test_rows_skipped_as_duplicates_of_the_retracted_upload_come_back(fresh_server, seed, seed_results,
                                                                      uk_file, tmp_path):
    uk_path, uk = uk_file
    # P shares UK's rows 1000..2999 and has 800 rows of its own; loaded after UK, it skips the shared ones.
    p_path = rs.partly_duplicate(uk_path, tmp_path / "P.csv", slice(1000, 3000), 800, first_invoice=960000)
    p = reference.load_file(str(p_path), region="UK")
    shared = {r.key() for r in p.rows} & {r.key() for r in uk.rows}
    assert len(shared) > 1500, "P must repeat many of UK's rows"

    _load_seed(fresh_server, seed)
    first = rs.upload_one(fresh_server, uk_path)
    assert first["status"] == "loaded", first
    second = rs.upload_one(fresh_server, p_path, region="UK")
    assert second["status"] == "loaded", second
    assert second["rows"]["duplicates"] >= len(shared), second
    assert second["rows"]["loaded"] + second["rows"]["duplicates"] == p.loaded + p.duplicates, second
    assert rs.report_mismatches(fresh_server, [*seed_results, uk, p]) == []

    response = rs.retract(fresh_server, first["id"])
    assert response.status == 200 and response.json()["status"] == "retracted", (response.status, response.body)
    survivors = [*seed_results, p]
    assert rs.summary_of(fresh_server)["revenue"] == reference.summary(survivors)["revenue"]
    problems = ["UK retracted: " + m for m in rs.report_mismatches(fresh_server, survivors, gone=[uk])]
    assert rs.record(fresh_server, second["id"])["status"] == "loaded"

    # And then P taken back too leaves exactly the seed files.
    assert rs.retract(fresh_server, second["id"]).status == 200
    problems += ["P retracted too: " + m for m in rs.report_mismatches(fresh_server, seed_results, gone=[uk, p])]
    assert problems == []


def test_a_second_upload_of_the_same_bytes_keeps_the_rows_when_the_first_is_retracted(fresh_server, seed, seed_results):
    india, usa = seed_results
    first = rs.upload_one(fresh_server, seed / "IN.csv")
    second = rs.upload_one(fresh_server, seed / "IN.csv")
    assert (first["status"], second["status"]) == ("loaded", "already_loaded"), (first, second)
    assert rs.upload_one(fresh_server, seed / "usa.csv")["status"] == "loaded"

    assert rs.retract(fresh_server, first["id"]).status == 200
    # The second upload of IN.csv is live: the rows it skipped are back through it.
    problems = ["first IN.csv retracted: " + m for m in rs.report_mismatches(fresh_server, seed_results)]
    assert rs.record(fresh_server, second["id"])["status"] == "already_loaded"
    assert rs.retract(fresh_server, second["id"]).status == 200
    problems += ["both retracted: " + m for m in rs.report_mismatches(fresh_server, [usa], gone=[india])]
    assert problems == []


# --- who may retract what -------------------------------------------------------------------

@pytest.fixture
def local_site(tmp_path):
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    site = access.Site.create(access.local_auth(), prefix="retract-local")
    try:
        yield site
    finally:
        site.stop_all()


def test_who_may_retract_which_upload(local_site, tmp_path):
    site = local_site
    admin = site.add_user("boss", "admin", ["*"], password="boss-Secret-42-long")
    alice = site.add_user("alice", "uploader", ["UK"], password="alice-Secret-42-long")
    bob = site.add_user("bob", "uploader", ["UK"], password="bob-Secret-42-long")
    ravi = site.add_user("ravi", "uploader", ["IN"], password="ravi-Secret-42-long")
    viewer = site.add_user("vera", "viewer", ["*"], password="vera-Secret-42-long")
    server = site.start()

    def uk(name: str, invoice: int) -> Path:
        return access.unique_csv(tmp_path, name, invoice)[0]

    a1 = rs.upload_one(server, uk("UK-a1.csv", 610000), *access.bearer(alice.token), region="UK")
    a2 = rs.upload_one(server, uk("UK-a2.csv", 620000), *access.bearer(alice.token), region="UK")
    a3 = rs.upload_one(server, uk("UK-a3.csv", 630000), *access.bearer(alice.token), region="UK")
    b1 = rs.upload_one(server, uk("UK-b1.csv", 640000), *access.bearer(bob.token), region="UK")
    for result in (a1, a2, a3, b1):
        assert result["status"] == "loaded", result
    assert (a1["user"], b1["user"]) == ("alice", "bob")
    # The client's address is for admins' eyes only.
    assert "client_address" not in rs.record(server, a1["id"], *access.bearer(alice.token))
    assert rs.record(server, a1["id"], *access.bearer(admin.token))["client_address"] == "127.0.0.1"

    def refused(user, upload_id: str, status: int, code: str | None, *extra: str) -> None:
        args = (*access.bearer(user.token), *extra) if user else extra
        response = rs.retract(server, upload_id, *args)
        who = user.name if user else "no credentials"
        assert response.status == status, (who, response.status, response.body)
        if code is not None:
            assert support.problem(response)[0] == code, (who, response.body)

    refused(viewer, a1["id"], 403, "forbidden")
    refused(bob, a1["id"], 403, "forbidden")
    refused(ravi, a1["id"], 404, None)              # a region outside ravi's list: as if it did not exist
    refused(admin, "01a22df41dfbfb9a4121", 404, None)
    refused(alice, "not-an-upload-id", 404, None)
    refused(None, a1["id"], 401, None)
    no_credentials = rs.retract(server, a1["id"])
    assert "bearer" in no_credentials.headers.get("www-authenticate", "").lower(), no_credentials.headers

    cookie, csrf = access.signed_in(server, alice)
    origin = ("-H", f"Origin: {access.origin_of(server)}")
    no_token = rs.retract(server, a2["id"], *access.cookie_args(cookie), *origin)
    assert no_token.status == 403 and support.problem(no_token)[0] == "csrf", (no_token.status, no_token.body)
    wrong_token = rs.retract(server, a2["id"], *access.cookie_args(cookie), *origin, "-H", "X-CSRF-Token: x" + csrf)
    assert wrong_token.status == 403 and support.problem(wrong_token)[0] == "csrf", wrong_token.body

    for upload in (a1, a2, a3, b1):
        assert rs.record(server, upload["id"], *access.bearer(admin.token))["status"] == "loaded", \
            f"a refused retraction changed {upload['file']}"

    own = rs.retract(server, a1["id"], *access.bearer(alice.token))
    assert own.status == 200, (own.status, own.body)
    assert (own.json()["status"], own.json()["retracted_by"], own.json()["user"]) == ("retracted", "alice", "alice")
    by_cookie = rs.retract(server, a2["id"], *access.cookie_args(cookie), *origin, "-H", f"X-CSRF-Token: {csrf}")
    assert by_cookie.status == 200 and by_cookie.json()["retracted_by"] == "alice", (by_cookie.status, by_cookie.body)
    by_admin = rs.retract(server, b1["id"], *access.bearer(admin.token))
    assert by_admin.status == 200, (by_admin.status, by_admin.body)
    assert (by_admin.json()["retracted_by"], by_admin.json()["user"]) == ("boss", "bob")
    also_by_admin = rs.retract(server, a3["id"], *access.bearer(admin.token))
    assert also_by_admin.status == 200 and also_by_admin.json()["retracted_by"] == "boss", also_by_admin.body

    assert access.summary_as(server, admin.token)["orders"] == 0, "every upload was taken back"


def test_retraction_is_refused_while_the_upload_is_loading(fresh_server, tmp_path):
    path = rs.generate(tmp_path / "UK.csv", LOADING_ROWS, seed=5)
    client = subprocess.Popen(["curl", "-sS", "--max-time", "600", "-o", os.devnull, "-F", f"file=@{path}",
                               fresh_server.url("/api/uploads")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def loading():
            for item in support.history(fresh_server):
                if item["file"] == "UK.csv" and item["status"] in ("loading", "stored") \
                        and item["progress"]["bytes_processed"] > 0:
                    return item
            return None

        running = rs.wait_for("a load in progress", loading, timeout=120, every=0.05)
        response = rs.retract(fresh_server, running["id"])
        after = rs.record(fresh_server, running["id"])["status"]
        assert after in ("loading", "stored"), f"the load was over before the DELETE came ({after}): raise LOADING_ROWS"
        assert response.status == 409, (response.status, response.body)
        assert support.problem(response)[0] == "still_loading"
        assert client.wait(timeout=300) == 0
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    loaded = rs.record(fresh_server, running["id"])
    assert loaded["status"] == "loaded", loaded
    done = rs.retract(fresh_server, running["id"])
    assert done.status == 200 and done.json()["status"] == "retracted", (done.status, done.body)
    assert rs.summary_of(fresh_server)["orders"] == 0


# --- a retraction cut short --------------------------------------------------------------------

def _rows_left(data_dir: Path, upload_id: str) -> int | None:
    """Rows of the upload still in the SQLite file, read-only; None when the file cannot be read."""
    database = data_dir / "warehouse.sqlite"
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        try:
            [(count,)] = connection.execute(
                "SELECT count(*) FROM order_rows WHERE upload_ref = (SELECT ref FROM uploads WHERE id = ?)",
                (upload_id,)).fetchall()
            return count
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def test_retraction_killed_midway_is_finished_on_the_next_start(seed, seed_results, tmp_path):
    path = rs.generate(tmp_path / "UK.csv", KILL_ROWS, seed=23)
    server = support.start_server()
    data_dir = server.data_dir
    second = None
    try:
        _load_seed(server, seed)
        started = time.monotonic()
        big = rs.upload_one(server, path, timeout=600)
        load_seconds = time.monotonic() - started
        assert big["status"] == "loaded", big
        loaded = big["rows"]["loaded"]
        assert loaded > 0.95 * KILL_ROWS, big
        with_big = rs.summary_of(server)
        without = reference.summary(seed_results)
        assert rs.summary_of(server) != without

        answers: list = []
        deleting = threading.Thread(target=lambda: answers.append(rs.retract(server, big["id"], timeout=600)),
                                    daemon=True)
        deleting.start()
        def midway():
            if answers:
                return "answered"
            if (rs.record_or_none(server, big["id"]) or {}).get("status") != "retracting":
                return None
            left = _rows_left(data_dir, big["id"])
            return left if left is not None and 0 < left < loaded else None

        # Killed once the record says `retracting` and some of the rows, not all, are gone.
        seen = rs.wait_for("a retraction half done", midway, timeout=120, every=0.01)
        status_at_kill = rs.record(server, big["id"])["status"]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=support.STOP_TIMEOUT)
        deleting.join(timeout=30)
        assert seen != "answered" and status_at_kill == "retracting", \
            f"the retraction was over before the kill ({status_at_kill}, answers {answers}): raise RETRACTION_KILL_ROWS"
        left = _rows_left(data_dir, big["id"])
        assert left is not None and 0 < left < loaded, f"rows of the upload left after the kill: {left} of {loaded}"

        started = time.monotonic()
        second = support.Server(data_dir=data_dir).start()
        finished = rs.wait_for("the retraction finished after the restart",
                               lambda: (lambda r: r if r and r.get("status") not in ("retracting",) else None)(
                                   rs.record_or_none(second, big["id"])), timeout=300, every=0.2)
        finish_seconds = time.monotonic() - started
        print(f"\n{KILL_ROWS} rows: load {load_seconds:.1f}s, {left} rows left at the kill, "
              f"restart and finish {finish_seconds:.1f}s")
        assert finished["status"] == "retracted", finished
        assert finished["retracted_by"] == "anonymous", finished
        assert _rows_left(data_dir, big["id"]) == 0
        assert rs.summary_of(second) == without
        assert with_big["orders"] > without["orders"]
        problems = rs.report_mismatches(second, seed_results)
        retractions = second_audit(second, "retraction")
        if [e["subject"] for e in retractions] != [big["id"]]:
            problems.append(f"the retraction finished on start is not in the audit trail once: {retractions}")
        assert problems == []
    finally:
        server.kill()
        if second is not None:
            support.stop_and_check(second)


def test_a_second_request_during_a_retraction_records_one_retraction(fresh_server, seed, seed_results, tmp_path):
    path = rs.generate(tmp_path / "UK.csv", KILL_ROWS, seed=29)
    _load_seed(fresh_server, seed)
    big = rs.upload_one(fresh_server, path, timeout=600)
    assert big["status"] == "loaded", big
    answers: list = []
    first = threading.Thread(target=lambda: answers.append(rs.retract(fresh_server, big["id"], timeout=600)), daemon=True)
    first.start()
    rs.wait_for("the record saying retracting",
                lambda: answers or (rs.record_or_none(fresh_server, big["id"]) or {}).get("status") == "retracting",
                timeout=60, every=0.01)
    assert not answers, "the retraction was over before the second request: raise RETRACTION_KILL_ROWS"
    second = rs.retract(fresh_server, big["id"], timeout=600)
    first.join(timeout=600)
    assert answers and answers[0].status == 200, answers
    assert second.status in (200, 409), (second.status, second.body)
    assert rs.record(fresh_server, big["id"])["status"] == "retracted"
    assert rs.summary_of(fresh_server) == reference.summary(seed_results)
    events = [e for e in second_audit(fresh_server, "retraction") if e["subject"] == big["id"]]
    assert len(events) == 1, f"one retraction, {len(events)} audit events (second request answered {second.status}): {events}"


def second_audit(server: support.Server, kind: str) -> list[dict]:
    response = support.get(server, f"/api/audit?kind={kind}&limit=500")
    assert response.status == 200, (response.status, response.body)
    return response.json()["events"]


# --- raw files of rejected uploads ------------------------------------------------------------

def test_raw_files_of_rejected_uploads_are_removed_after_the_retention(seed, tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    config = access.write_config(root, {"storage": {"rejectedFileRetentionDays": 0, "retentionSweepSeconds": 1}})
    data = root / "data"
    data.mkdir()
    server = support.Server(data_dir=data, config=config).start()
    try:
        kept = rs.upload_one(server, seed / "IN.csv")
        assert kept["status"] == "loaded", kept
        partly = tmp_path / "usa.csv"
        partly.write_bytes((seed / "usa.csv").read_bytes().rstrip(b"\r\n") + b"\r\n536999,85123A,X,notanumber,12/1/2010 8:26,2.55,17850,United States\r\n")
        with_rejects = rs.upload_one(server, partly)
        assert with_rejects["status"] == "loaded" and with_rejects["rows"]["rejected"] == 1, with_rejects

        def rejected_upload(name: str, invoice: int) -> tuple[dict, bytes]:
            source = access.unique_csv(tmp_path, f"source-{name}", invoice)[0]
            path = rs.without_column(source, tmp_path / name, "Country")
            result = rs.upload_one(server, path, region="UK", status=422)
            assert result["status"] == "rejected" and result["error"] == "missing_columns", result
            return result, path.read_bytes()

        def removed(result: dict, content: bytes):
            stored = rs.record(server, result["id"])
            gone = not support.files_with_content(data, content) and not _object_path(result).exists()
            return stored if gone and stored.get("raw_file_removed_at") else None

        first, first_bytes = rejected_upload("UK-first.csv", 650000)
        stored = rs.wait_for("the raw file of a rejected upload removed", lambda: removed(first, first_bytes),
                             timeout=30, every=0.2)
        assert stored["status"] == "rejected" and stored["error"] == "missing_columns", stored
        assert stored["raw_file_removed_at"] >= stored["created_at"], stored
        # A second rejected file, removed by a later sweep: the loaded files outlived a sweep.
        later, later_bytes = rejected_upload("UK-later.csv", 660000)
        rs.wait_for("a second rejected file removed", lambda: removed(later, later_bytes), timeout=30, every=0.2)
        for result, source in ((kept, seed / "IN.csv"), (with_rejects, partly)):
            assert _object_path(result).read_bytes() == source.read_bytes(), f"{result['file']}'s raw file must stay"
            assert "raw_file_removed_at" not in rs.record(server, result["id"]), result
        assert rs.summary_of(server)["revenue"] == reference.summary(
            [reference.load_file(str(seed / "IN.csv")), reference.load_file(str(partly))])["revenue"]
    finally:
        support.stop_and_check(server)
