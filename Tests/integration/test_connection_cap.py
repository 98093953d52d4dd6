"""One client address cannot hold every connection: past server.limits.maxConnectionsPerClient
its new connections are answered 503 and closed, while another address is served as usual."""
from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path

import support

CAP = 8


def _connect(server: support.Server, source: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    return sock


def test_a_client_past_its_connection_cap_is_503_and_other_addresses_are_served():
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    (root / "data").mkdir()
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    config["server"]["limits"]["maxConnectionsPerClient"] = CAP
    (root / "config.json").write_text(json.dumps(config))
    server = support.Server(data_dir=root / "data", config=root / "config.json").start()
    held: list[socket.socket] = []
    try:
        host = f"Host: 127.0.0.1:{server.port}\r\n"
        for _ in range(CAP):
            sock = _connect(server, "127.0.0.1")
            sock.sendall(f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode())
            status, _, _ = support.read_response(sock, bytearray())
            assert status == 200
            held.append(sock)
        extra = _connect(server, "127.0.0.1")
        status, headers, body = support.read_response(extra, bytearray())
        assert status == 503 and headers.get("retry-after") == "5", (status, headers)
        assert json.loads(body)["error"] == "too_many_connections"
        extra.close()
        # Another address on this machine is not affected.
        other = _connect(server, "127.0.0.2")
        other.sendall(f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode())
        assert support.read_response(other, bytearray())[0] == 200
        other.close()
        # The held connections keep working, and closing one makes room again.
        held[0].sendall(f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode())
        assert support.read_response(held[0], bytearray())[0] == 200
        held.pop().close()

        def admitted():
            sock = _connect(server, "127.0.0.1")
            sock.sendall(f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode())
            ok = support.read_response(sock, bytearray())[0] == 200
            if ok:
                held.append(sock)
            else:
                sock.close()
            return ok

        support.wait_for("a connection admitted again", admitted, timeout=10, every=0.05)
    finally:
        for sock in held:
            sock.close()
        support.stop_and_check(server)
