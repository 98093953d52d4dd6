"""Uploads trickled in to hold the upload threads are cut off once they are slower than
server.timeouts.minBodyBytesPerSecond over a window, and a normal upload beside them is loaded;
a body that arrives slowly holds no thread, so two hundred of them from as many addresses do not
keep a normal upload waiting either."""
from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import support


def _trickle(server: support.Server, source: str, results: list, stop: threading.Event) -> None:
    """An upload from `source` that sends 20 bytes every 100 ms; records the server's answer."""
    body, content_type = support.multipart("UK.csv", support.sales_csv(2000, first_invoice=510000).encode())
    sock = socket.socket()
    sock.settimeout(30)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode())
    sent = 0
    try:
        while not stop.is_set() and sent < len(body):
            sock.sendall(body[sent:sent + 20])
            sent += 20
            sock.settimeout(0.1)
            try:
                status, _, answer = support.read_response(sock, bytearray())
                results.append((status, json.loads(answer)))
                return
            except (socket.timeout, TimeoutError):
                pass
    except OSError as error:
        results.append((0, {"error": str(error)}))
    finally:
        sock.close()


def test_trickled_uploads_are_cut_off_and_a_normal_upload_beside_them_loads(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    (root / "data").mkdir()
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    config["server"]["timeouts"].update({"minBodyBytesPerSecond": 1000, "bodyRateWindowMs": 2000})
    (root / "config.json").write_text(json.dumps(config))
    server = support.Server(data_dir=root / "data", config=root / "config.json").start()
    stop = threading.Event()
    results: list = []
    trickles = [threading.Thread(target=_trickle, args=(server, f"127.0.0.{n}", results, stop)) for n in (2, 3, 4, 5)]
    try:
        for thread in trickles:
            thread.start()
        # The four trickled uploads (as many as there are upload threads) are in progress before the normal one is sent.
        support.wait_for("four uploads in progress",
                         lambda: support.get(server, "/readyz").json()["load"]["uploads_in_progress"] >= 4,
                         timeout=10, every=0.05)
        path = tmp_path / "USA.csv"
        path.write_text(support.sales_csv(500, first_invoice=520000, country="USA"))
        started = time.monotonic()
        [normal] = support.uploads_of(support.upload(server, path, timeout=60))
        assert normal["status"] == "loaded" and normal["rows"]["loaded"] == 500, normal
        assert time.monotonic() - started < 10, "the normal upload waited on the trickled ones"
        for thread in trickles:
            thread.join(timeout=30)
        assert len(results) == 4, results
        assert all(status == 408 and answer["error"] == "body_too_slow" for status, answer in results), results
        assert not [r for r in support.history(server) if r["file"] == "UK.csv"], "a cut-off upload left a record"
    finally:
        stop.set()
        support.stop_and_check(server)


def test_two_hundred_stalled_uploads_hold_no_thread_and_a_normal_upload_loads_beside_them(tmp_path):
    """Each of 200 addresses starts an upload and stops sending part-way (within the inactivity
    timeout). The normal upload is answered while every one of them is still open and unanswered;
    when they go away, their spool files go too and no record is left."""
    server = support.Server(data_dir=tmp_path / "data").start()
    stalled: list[socket.socket] = []
    try:
        body, content_type = support.multipart("UK.csv", support.sales_csv(2000, first_invoice=530000).encode())
        for n in range(1, 201):
            sock = socket.socket()
            sock.settimeout(10)
            sock.bind((f"127.0.1.{n}", 0))
            sock.connect((server.host, server.port))
            sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:len(body) // 2])
            stalled.append(sock)
        support.wait_for("200 uploads in progress",
                         lambda: support.get(server, "/readyz").json()["load"]["uploads_in_progress"] >= 200,
                         timeout=20, every=0.05)
        path = tmp_path / "USA.csv"
        path.write_text(support.sales_csv(500, first_invoice=540000, country="USA"))
        started = time.monotonic()
        [normal] = support.uploads_of(support.upload(server, path, timeout=60))
        elapsed = time.monotonic() - started
        assert normal["status"] == "loaded" and normal["rows"]["loaded"] == 500, normal
        assert elapsed < 10, f"the normal upload took {elapsed:.1f} s beside the stalled ones"
        load = support.get(server, "/readyz").json()["load"]
        assert load["uploads_in_progress"] == 200 and load["running_uploads"] == 0, load
        for sock in stalled:
            sock.setblocking(False)
            try:
                assert sock.recv(1) == b"", "a stalled upload was answered"
                raise AssertionError("a stalled upload was closed by the server")
            except BlockingIOError:
                pass  # still open, nothing sent back: what we expect
    finally:
        for sock in stalled:
            sock.close()
    try:
        support.wait_for("the stalled uploads to be let go",
                         lambda: support.get(server, "/readyz").json()["load"]["uploads_in_progress"] == 0, timeout=20, every=0.1)
        support.wait_for("their spool files to be deleted",
                         lambda: not list((tmp_path / "data").rglob("*.part")), timeout=20, every=0.1)
        assert [r["file"] for r in support.history(server)] == ["USA.csv"]
    finally:
        support.stop_and_check(server)
