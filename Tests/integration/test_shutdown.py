"""SIGTERM stops the server cleanly (exit 0), even with a client connected."""
from __future__ import annotations

import socket
import time

import support


def test_sigterm_exits_zero_after_serving():
    server = support.start_server()
    try:
        assert support.healthy(server)
    finally:
        support.stop_and_check(server)


def test_sigterm_exits_zero_with_an_idle_keep_alive_connection():
    server = support.start_server()
    sock = support.connect(server, timeout=5)
    try:
        buffer = bytearray()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: it\r\n\r\n")
        status, _, _ = support.read_response(sock, buffer)
        assert status == 200
        started = time.monotonic()
        support.stop_and_check(server)
        assert time.monotonic() - started < 5.0, "an idle connection held up the stop"
    finally:
        sock.close()
        server.kill()


def test_stopped_server_no_longer_accepts():
    server = support.start_server()
    host, port = server.host, server.port
    support.stop_and_check(server)
    try:
        socket.create_connection((host, port), timeout=2).close()
        accepted = True
    except OSError:
        accepted = False
    assert not accepted
