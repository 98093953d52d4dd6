"""The upload body limit (a setting): an over-limit body is refused with 413
before the server reads it. The config shape is in support.config_with_body_limit."""
from __future__ import annotations

import pytest

import support

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def limited_server():
    running = support.start_server(config_max_body=LIMIT)
    yield running
    support.stop_and_check(running)


def _post_head(content_length: int, expect: bool = False) -> bytes:
    return ("POST /api/uploads HTTP/1.1\r\nHost: it\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {content_length}\r\n" + ("Expect: 100-continue\r\n" if expect else "") +
            "\r\n").encode()


def test_huge_content_length_gets_413_before_any_body_byte(limited_server):
    sock = support.connect(limited_server, timeout=5)
    buffer = bytearray()
    with sock:
        sock.sendall(_post_head(50_000_000_000))
        status, headers, body = support.read_response(sock, buffer)
    assert status == 413
    assert "json" in headers.get("content-type", "")
    assert support.healthy(limited_server)


def test_over_limit_with_expect_gets_413_instead_of_100(limited_server):
    sock = support.connect(limited_server, timeout=5)
    buffer = bytearray()
    with sock:
        sock.sendall(_post_head(LIMIT * 3, expect=True))
        status, _ = support.read_head(sock, buffer)
    assert status == 413


def test_over_limit_upload_with_curl_gets_413_and_loads_nothing(limited_server, tmp_path):
    path = tmp_path / "UK.csv"
    path.write_text(support.sales_csv(int(LIMIT * 1.5 / 90), first_invoice=900000))
    assert path.stat().st_size > LIMIT
    before = support.summary(limited_server)
    response = support.upload(limited_server, path, timeout=30)
    assert response.status == 413, response.body[:500]
    support.problem(response)
    assert support.summary(limited_server) == before
    assert support.healthy(limited_server)


def test_under_limit_upload_still_loads(limited_server, tmp_path):
    path = tmp_path / "UK.csv"
    path.write_text(support.sales_csv(100, first_invoice=910000))
    response = support.upload(limited_server, path)
    assert response.status == 200, response.body
    assert support.uploads_of(response)[0]["rows"]["loaded"] == 100
