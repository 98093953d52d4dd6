"""HTTP/1.1 behaviour seen from real clients: keep-alive, Expect: 100-continue,
malformed requests."""
from __future__ import annotations

import re
import subprocess
from datetime import datetime

import support


def test_a_thousand_requests_share_one_keep_alive_connection(server, tmp_path):
    config = tmp_path / "curl.conf"
    url = server.url("/healthz")
    config.write_text("".join(f'url = "{url}"\noutput = "/dev/null"\n' for _ in range(1000)))
    done = subprocess.run(["curl", "-sS", "--max-time", "120", "-K", str(config),
                           "-w", "%{http_code} %{num_connects}\n"], capture_output=True, timeout=130)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().split()
    statuses, connects = lines[0::2], [int(n) for n in lines[1::2]]
    assert len(statuses) == 1000
    assert set(statuses) == {"200"}
    assert sum(connects) == 1


def test_a_thousand_requests_on_one_raw_socket(server):
    sock = support.connect(server)
    buffer = bytearray()
    with sock:
        for i in range(1000):
            path = "/healthz" if i % 2 == 0 else "/api/report/summary"
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            status, headers, _ = support.read_response(sock, buffer)
            assert status == 200, (i, status)
            assert headers.get("connection", "").lower() != "close"
        assert buffer == b""


def test_expect_100_continue_is_answered_at_once(server, tmp_path):
    data = support.sales_csv(23_000, first_invoice=800000).encode()
    assert len(data) > 2_000_000
    path = tmp_path / "UK.csv"
    path.write_bytes(data)
    done = subprocess.run(["curl", "-v", "--trace-time", "-sS", "--max-time", "30", "-o", "/dev/null",
                           "-w", "%{http_code} %{time_total}", "-H", "Expect: 100-continue",
                           "-F", f"file=@{path}", server.url("/api/uploads")],
                          capture_output=True, timeout=40)
    trace = done.stderr.decode(errors="replace")
    status, total = done.stdout.decode().split()
    assert status == "200", trace[-2000:]
    assert "HTTP/1.1 100 Continue" in trace

    def stamp(pattern: str) -> datetime:
        line = next(l for l in trace.splitlines() if re.search(pattern, l))
        return datetime.strptime(line.split(" ")[0], "%H:%M:%S.%f")

    waited = (stamp(r"< HTTP/1.1 100 Continue") - stamp(r"> Expect: 100-continue")).total_seconds()
    assert waited < 0.25, f"100 Continue came after {waited:.3f}s"
    assert float(total) < 1.0, f"a 2 MB upload took {total}s"


def test_expect_100_continue_on_a_raw_socket(server):
    content = support.sales_csv(10, first_invoice=810000).encode()
    body, content_type = support.multipart("UK.csv", content)
    sock = support.connect(server, timeout=5)
    buffer = bytearray()
    with sock:
        sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
        status, _ = support.read_head(sock, buffer)
        assert status == 100
        sock.sendall(body)
        status, _, answer = support.read_response(sock, buffer)
    assert status == 200, answer


def test_garbage_request_line_gets_400_json_and_the_server_lives(server):
    sock = support.connect(server, timeout=5)
    buffer = bytearray()
    with sock:
        sock.sendall(b"\x16\x03\x01\x02\x00 this is not http\r\n\r\n")
        status, headers, body = support.read_response(sock, buffer)
    assert status == 400
    assert "json" in headers.get("content-type", "")
    assert support.healthy(server)


def test_unknown_route_is_404_json(server):
    response = support.get(server, "/api/no-such-thing")
    assert response.status == 404
    support.problem(response)
