"""HTTP/1.1 behaviour seen from real clients: keep-alive, Expect: 100-continue,
malformed requests."""
from __future__ import annotations

import subprocess

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


def test_expect_100_continue_is_answered_before_the_body_is_sent(server, tmp_path):
    data = support.sales_csv(23_000, first_invoice=800000).encode()
    assert len(data) > 2_000_000
    path = tmp_path / "UK.csv"
    path.write_bytes(data)
    # curl waits up to --expect100-timeout for the 100 before it sends the body anyway; with a
    # long wait, a body sent after "100 Continue" shows the server asked for it.
    trace_path = tmp_path / "trace"
    done = subprocess.run(["curl", "--trace-ascii", str(trace_path), "-sS", "--max-time", "120",
                           "--expect100-timeout", "60", "-o", str(tmp_path / "answer"), "-w", "%{http_code}",
                           "-H", "Expect: 100-continue", "-F", f"file=@{path}", server.url("/api/uploads")],
                          capture_output=True, timeout=150)
    trace = trace_path.read_text(errors="replace")
    assert done.stdout.decode() == "200", trace[-2000:]
    assert "HTTP/1.1 100 Continue" in trace, "no 100 Continue"
    assert "=> Send data" in trace, "no body sent"
    lines = trace.splitlines()
    continue_at = next(i for i, line in enumerate(lines) if "HTTP/1.1 100 Continue" in line)
    body_at = next(i for i, line in enumerate(lines) if line.startswith("=> Send data"))
    assert continue_at < body_at, "the body was sent before the server's 100 Continue"
    [result] = support.uploads_of(support.Response(200, {}, (tmp_path / "answer").read_bytes()))
    assert result["status"] == "loaded", result
    assert result["rows"] == {"read": 23_000, "loaded": 23_000, "rejected": 0, "duplicates": 0}
    assert result["size"] == len(data)


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
