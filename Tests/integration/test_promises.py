"""The README's promises that only the real executable can keep: `sales-portal ingest`, the
form without JavaScript, /readyz, the answers to malformed uploads and to storage or warehouse
trouble, the stop on SIGINT and SIGTERM with an upload in flight, a taken port, a load killed
midway resumed on the next start, and the default length of the history."""
from __future__ import annotations

import html
import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import reference
import support


def wait_until(what: str, condition, timeout: float = 60.0, every: float = 0.05):
    """Polls `condition` until it returns something true; fails loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def ingest(data_dir: Path, *files: Path, region: str | None = None) -> tuple[int, dict, str]:
    """Runs `sales-portal ingest FILES --data-dir DIR`: (exit code, its JSON, its stderr)."""
    command = [str(support.binary_path()), "ingest", *map(str, files), "--data-dir", str(data_dir)]
    if region is not None:
        command += ["--region", region]
    done = subprocess.run(command, capture_output=True, timeout=300, cwd=support.REPO_ROOT)
    return done.returncode, json.loads(done.stdout), done.stderr.decode(errors="replace")


def result_figures(result: dict) -> tuple:
    return result["file"], result["region"], result["status"], result["rows"], result["revenue"]


def want_figures(want: reference.FileResult, status: str = "loaded") -> tuple:
    rows = {"read": want.read, "loaded": want.loaded, "rejected": want.rejected, "duplicates": want.duplicates}
    return want.file, want.region, status, rows, want.revenue_text


# --- sales-portal ingest ----------------------------------------------------------

def test_ingest_prints_the_upload_json_and_exits_0_beside_a_running_server(fresh_server, seed):
    want = reference.load_file(str(seed / "IN.csv"))
    code, body, _ = ingest(fresh_server.data_dir, seed / "IN.csv")
    assert code == 0, body
    [result] = body["uploads"]
    assert result_figures(result) == want_figures(want)
    # The server on the same data folder sees the rows and the record at once.
    assert support.summary(fresh_server)["revenue"] == want.revenue_text
    assert [r["id"] for r in support.history(fresh_server)] == [result["id"]]
    # The same file again is already loaded, which is still success.
    code, body, _ = ingest(fresh_server.data_dir, seed / "IN.csv")
    assert code == 0
    assert [u["status"] for u in body["uploads"]] == ["already_loaded"]
    assert body["uploads"][0]["rows"]["loaded"] == 0


def test_ingest_exits_1_when_a_file_is_not_loaded(fresh_server, seed, tmp_path):
    empty = tmp_path / "UK.csv"
    empty.write_bytes(b"")
    want = reference.load_file(str(seed / "usa.csv"))
    code, body, _ = ingest(fresh_server.data_dir, empty, seed / "usa.csv")
    assert code == 1, body
    rejected, loaded = body["uploads"]
    assert (rejected["file"], rejected["status"], rejected["error"]) == ("UK.csv", "rejected", "empty_file")
    assert result_figures(loaded) == want_figures(want)
    assert support.summary(fresh_server)["revenue"] == want.revenue_text


def test_ingest_takes_the_region_from_the_flag(fresh_server, seed, tmp_path):
    path = tmp_path / "march-export.csv"
    path.write_bytes((seed / "usa.csv").read_bytes())
    code, body, _ = ingest(fresh_server.data_dir, path, region="UK")
    assert code == 0, body
    [result] = body["uploads"]
    assert (result["region"], result["status"], result["rows"]["loaded"]) == ("UK", "loaded", 291)
    assert support.summary(fresh_server, region="UK")["revenue"] == "1730.92"


# --- the form without JavaScript ---------------------------------------------------

def test_the_form_without_javascript_gets_an_html_page_of_results(server, seed):
    # What a browser sends for the page's form (action /api/uploads, multipart) with scripts off.
    page = support.get(server, "/")
    assert re.search(r'<form[^>]*method="post"[^>]*action="/api/uploads"[^>]*enctype="multipart/form-data"',
                     page.body.decode()), "the page's form changed"
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = support.upload(server, seed / "usa.csv", extra=("-H", f"Accept: {accept}"))
    assert response.status == 200, response.body[:500]
    assert response.headers["content-type"].startswith("text/html")
    text = response.body.decode()
    [row] = re.findall(r"<tbody>(.*?)</tbody>", text, re.S)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells == ["usa.csv", "USA", "loaded", "291", "291", "0", "0", "1730.92 GBP"], cells
    assert '<a href="/">' in text and '<a href="/dashboard">' in text


# --- /readyz -------------------------------------------------------------------------

def test_readyz_in_embedded_mode_checks_the_folder_and_the_warehouse(server):
    response = support.get(server, "/readyz")
    assert response.status == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ready", {"object_store": "ok", "warehouse": "ok"}), body
    # How busy the server is, for load balancers: nothing waits on an idle server.
    assert body["load"]["queued_queries"] == 0 and body["load"]["query_threads"] >= 1, body


# --- malformed uploads ---------------------------------------------------------------

def test_a_body_that_is_not_a_form_is_415(server):
    before = support.summary(server)
    response = support.curl(server.url("/api/uploads"), "-H", "Content-Type: application/json", "-d", '{"file": "IN.csv"}')
    assert response.status == 415
    assert support.problem(response)[0] == "unsupported_media_type"
    assert support.summary(server) == before


def test_a_form_without_a_file_is_400_no_file(server):
    response = support.curl(server.url("/api/uploads"), "-F", "region=UK")
    assert response.status == 400
    assert support.problem(response)[0] == "no_file"


def test_more_files_than_the_limit_is_413_and_nothing_is_stored(fresh_server, seed):
    # Config/default.json: server.limits.maxFilesPerUpload = 20.
    limit = json.loads(support.DEFAULT_CONFIG.read_text())["server"]["limits"]["maxFilesPerUpload"]
    assert limit == 20
    response = support.upload(fresh_server, *([seed / "usa.csv"] * (limit + 1)))
    assert response.status == 413, response.body[:300]
    error, message = support.problem(response)
    assert error == "too_large" and "20 files" in message
    assert support.history(fresh_server) == []
    ok = support.upload(fresh_server, *([seed / "usa.csv"] * limit))
    assert ok.status == 200
    assert [u["status"] for u in support.uploads_of(ok)] == ["loaded"] + ["already_loaded"] * (limit - 1)


def test_a_mixed_upload_is_200_with_each_file_s_own_result(fresh_server, seed, tmp_path):
    empty = tmp_path / "UK.csv"
    empty.write_bytes(b"")
    response = support.upload(fresh_server, seed / "usa.csv", empty)
    assert response.status == 200, response.body[:500]
    loaded, rejected = support.uploads_of(response)
    assert result_figures(loaded) == want_figures(reference.load_file(str(seed / "usa.csv")))
    assert (rejected["status"], rejected["error"]) == ("rejected", "empty_file")


# --- storage or warehouse trouble: 503, and sending again is safe -------------------

def test_a_storage_failure_is_503_and_sending_again_loads_once(fresh_server, seed):
    uploads = fresh_server.data_dir / "objects" / "uploads"
    uploads.parent.mkdir(parents=True, exist_ok=True)
    assert not uploads.exists()
    uploads.write_bytes(b"")   # a file where the folder of raw files must go
    response = support.upload(fresh_server, seed / "usa.csv")
    assert response.status == 503, response.body[:500]
    [result] = support.uploads_of(response)
    assert (result["status"], result["error"]) == ("failed", "storage_failed"), result
    assert support.summary(fresh_server)["orders"] == 0
    uploads.unlink()
    again = support.upload(fresh_server, seed / "usa.csv")
    assert again.status == 200
    assert [u["status"] for u in support.uploads_of(again)] == ["loaded"]
    assert support.summary(fresh_server)["revenue"] == "1730.92"


def test_a_warehouse_failure_is_503_and_sending_again_loads_once(fresh_server, seed):
    database = sqlite3.connect(fresh_server.data_dir / "warehouse.sqlite", isolation_level=None, timeout=30)
    try:
        database.execute("BEGIN EXCLUSIVE")   # the warehouse cannot write until this ends
        response = support.upload(fresh_server, seed / "usa.csv")
    finally:
        database.execute("ROLLBACK")
        database.close()
    assert response.status == 503, response.body[:500]
    [result] = support.uploads_of(response)
    assert result["status"] == "failed" and "locked" in result["message"], result
    assert support.summary(fresh_server)["orders"] == 0
    again = support.upload(fresh_server, seed / "usa.csv")
    assert again.status == 200
    assert [u["status"] for u in support.uploads_of(again)] == ["loaded"]
    assert support.summary(fresh_server)["revenue"] == "1730.92"


# --- stopping -------------------------------------------------------------------------

def test_sigint_stops_the_server_with_exit_0(seed):
    server = support.start_server()
    try:
        assert support.upload(server, seed / "usa.csv").status == 200
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=support.STOP_TIMEOUT) == 0, server.stderr()
        assert support.curl(server.url("/healthz"), timeout=5).status == 0
    finally:
        server.kill()


def test_an_upload_in_flight_at_sigterm_is_finished_before_the_exit(seed):
    server = support.start_server()
    content = (seed / "usa.csv").read_bytes()
    body, content_type = support.multipart("usa.csv", content)
    half = len(body) // 2
    sock = support.connect(server, timeout=60)
    try:
        sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                      f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body[:half])
        # In flight: the server is spooling the file.
        spool = server.data_dir / "spool"
        wait_until("the upload being spooled",
                   lambda: spool.is_dir() and any(p.is_file() and p.stat().st_size > 0 for p in spool.iterdir()))
        server.process.send_signal(signal.SIGTERM)
        sock.sendall(body[half:])
        status, headers, answer = support.read_response(sock, bytearray())
    finally:
        sock.close()
    try:
        assert status == 200, answer[:500]
        [result] = json.loads(answer)["uploads"]
        assert (result["status"], result["rows"]["loaded"], result["revenue"]) == ("loaded", 291, "1730.92")
        assert server.process.wait(timeout=support.STOP_TIMEOUT) == 0, server.stderr()
    finally:
        server.kill()
    # The stored upload is there for the next start.
    again = support.Server(data_dir=server.data_dir).start()
    try:
        assert [(r["id"], r["status"]) for r in support.history(again)] == [(result["id"], "loaded")]
        assert support.summary(again)["revenue"] == "1730.92"
    finally:
        support.stop_and_check(again)


def test_a_second_server_on_a_taken_port_refuses_to_start(server, tmp_path):
    command = [str(support.binary_path()), "serve", "--host", "127.0.0.1", "--port", str(server.port),
               "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(command, capture_output=True, timeout=60, cwd=support.REPO_ROOT, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert b"listening on" not in done.stdout
    assert b"in use" in done.stderr, done.stderr
    assert support.healthy(server)


# --- a load killed midway -------------------------------------------------------------

def test_a_load_killed_midway_is_finished_on_the_next_start(tmp_path):
    rows = 600_000
    path = tmp_path / "UK.csv"
    path.write_text(support.sales_csv(rows, first_invoice=300000))
    want = reference.load_file(str(path))
    assert want.loaded == rows

    server = support.start_server()
    database = server.data_dir / "warehouse.sqlite"

    def stored_rows() -> int:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as reader:
            return reader.execute("SELECT count(*) FROM order_rows").fetchone()[0]

    client = subprocess.Popen(["curl", "-sS", "--max-time", "600", "-o", "/dev/null", "-F", f"file=@{path}",
                               server.url("/api/uploads")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def loading_with_rows_stored():
            records = [r for r in support.history(server) if r["file"] == "UK.csv" and r["status"] == "loading"]
            return records[0] if records and stored_rows() > 0 else None

        running = wait_until("a load with rows stored and more to come", loading_with_rows_stored, timeout=240)
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=support.STOP_TIMEOUT)
        client.kill()
        client.wait()
    partial = stored_rows()
    assert 0 < partial < rows, f"{partial} of {rows} rows before the kill: make the file bigger"

    again = support.Server(data_dir=server.data_dir).start()
    try:
        def finished():
            record = [r for r in support.history(again) if r["id"] == running["id"]]
            return record[0] if record and record[0]["status"] not in ("stored", "loading") else None

        record = wait_until("the resumed load", finished, timeout=600, every=0.5)
        assert record["status"] == "loaded", record
        assert record["rows"]["loaded"] + record["rows"]["duplicates"] == rows, record
        assert record["rows"]["rejected"] == 0
        assert stored_rows() == rows
        assert support.summary(again) == reference.summary([want])
    finally:
        support.stop_and_check(again)


# --- the history ---------------------------------------------------------------------

def test_the_history_lists_50_uploads_by_default(fresh_server, tmp_path):
    files = []
    for index in range(51):
        path = tmp_path / f"batch-{index:02d}" / "UK.csv"
        path.parent.mkdir()
        path.write_text(support.sales_csv(2, first_invoice=100000 + 10 * index))
        files.append(path)
    for start in range(0, 51, 17):
        response = support.upload(fresh_server, *files[start:start + 17])
        assert response.status == 200
        assert [u["status"] for u in support.uploads_of(response)] == ["loaded"] * 17
    everything = support.get(fresh_server, "/api/uploads?limit=1000").json()["uploads"]
    assert len(everything) == 51
    default = support.history(fresh_server)
    assert len(default) == 50
    assert [r["id"] for r in default] == [r["id"] for r in everything[:50]]
