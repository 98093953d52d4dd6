"""Uploads trickled in to hold the upload threads are cut off once they are slower than
server.timeouts.minBodyBytesPerSecond over a window, and a normal upload beside them is loaded."""
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
    trickles = [threading.Thread(target=_trickle, args=(server, f"127.0.0.{n}", results, stop)) for n in (2, 3, 4)]
    try:
        for thread in trickles:
            thread.start()
        # The trickled uploads hold three of the four upload threads before the normal one is sent.
        support.wait_for("three uploads running", lambda: support.get(server, "/readyz").json()["load"]["running_uploads"] >= 3,
                         timeout=10, every=0.05)
        path = tmp_path / "USA.csv"
        path.write_text(support.sales_csv(500, first_invoice=520000, country="USA"))
        started = time.monotonic()
        [normal] = support.uploads_of(support.upload(server, path, timeout=60))
        assert normal["status"] == "loaded" and normal["rows"]["loaded"] == 500, normal
        assert time.monotonic() - started < 10, "the normal upload waited on the trickled ones"
        for thread in trickles:
            thread.join(timeout=30)
        assert len(results) == 3, results
        assert all(status == 408 and answer["error"] == "body_too_slow" for status, answer in results), results
        assert not [r for r in support.history(server) if r["file"] == "UK.csv"], "a cut-off upload left a record"
    finally:
        stop.set()
        support.stop_and_check(server)
