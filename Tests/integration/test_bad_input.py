"""Bad input gets a precise JSON answer, loads nothing it should not, and leaves
the server healthy. Each test compares the report numbers before and after itself."""
from __future__ import annotations

import random
import time

import pytest

import reference
import support

FINAL = {"loaded", "already_loaded", "rejected", "failed"}


@pytest.fixture
def unchanged(server):
    """Asserts, after the test, that the report numbers did not move and the server is healthy."""
    before = support.summary(server)
    yield
    assert support.healthy(server)
    assert support.summary(server) == before


def _rejected(response: support.Response, code: str) -> str:
    """The README's answer to a file that cannot be loaded: 422, one result, status `rejected`,
    error `code`, nothing loaded. Returns the message."""
    assert response.status == 422, (response.status, response.body[:500])
    [result] = support.uploads_of(response)
    assert result["status"] == "rejected", result
    assert result["rows"] == {"read": 0, "loaded": 0, "rejected": 0, "duplicates": 0}, result
    error, message = support.upload_problem(response)
    assert error == code, result
    return message


def _write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_empty_file_is_refused_and_recorded(server, tmp_path, unchanged):
    response = support.upload(server, _write(tmp_path, "UK.csv", b""))
    _rejected(response, "empty_file")
    [result] = support.uploads_of(response)
    [record] = [r for r in support.history(server) if r["id"] == result["id"]]
    assert (record["status"], record["error"], record["region"]) == ("rejected", "empty_file", "UK"), record


def test_header_only_file_is_refused(server, tmp_path, unchanged):
    response = support.upload(server, _write(tmp_path, "UK.csv", (support.HEADER + "\r\n").encode()))
    _rejected(response, "no_data_rows")


def test_missing_column_is_refused_by_name(server, tmp_path, unchanged):
    lines = support.sales_csv(5, first_invoice=600100).splitlines()
    cut = [",".join(f for i, f in enumerate(line.split(",")) if i != 3) for line in lines]  # drop Quantity
    response = support.upload(server, _write(tmp_path, "UK.csv", ("\n".join(cut) + "\n").encode()))
    message = _rejected(response, "missing_columns")
    assert "quantity" in message.lower()


def test_binary_garbage_is_refused(server, tmp_path, unchanged):
    garbage = random.Random(7).randbytes(64 * 1024)
    assert b"\0" in garbage
    response = support.upload(server, _write(tmp_path, "UK.csv", garbage))
    _rejected(response, "not_csv")
    assert support.uploads_of(response)[0]["encoding"] == "binary"


def test_a_picture_is_refused_as_binary_not_as_some_text_encoding(server, tmp_path, unchanged):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(8).randbytes(4096)
    response = support.upload(server, _write(tmp_path, "UK.csv", png))
    _rejected(response, "not_csv")
    [result] = support.uploads_of(response)
    assert result["encoding"] == "binary", result
    assert any(upload["id"] == result["id"] and upload["encoding"] == "binary" for upload in support.history(server))


def test_one_50_megabyte_line_is_refused(server, tmp_path, unchanged):
    path = tmp_path / "UK.csv"
    with open(path, "wb") as handle:
        block = b"A" * (1 << 20)
        for _ in range(50):
            handle.write(block)
    response = support.upload(server, path, timeout=120)
    assert response.stderr == "", response.stderr
    _rejected(response, "header_too_long")


def test_unknown_region_field_is_422_nothing_is_stored_and_the_history_says_so(server, tmp_path, unchanged):
    content = support.sales_csv(7, first_invoice=600200).encode()
    uploads_before = len(support.history(server))
    response = support.upload(server, _write(tmp_path, "UK.csv", content), region="MARS")
    message = _rejected(response, "unknown_region")
    assert "MARS" in message
    [result] = support.uploads_of(response)
    history = support.history(server)
    assert len(history) == uploads_before + 1
    assert (history[0]["id"], history[0]["status"], history[0]["error"], history[0]["region"]) == \
        (result["id"], "rejected", "unknown_region", "MARS"), history[0]
    assert support.files_with_content(server.data_dir, content) == []


def test_unknown_region_from_the_file_name_is_422(server, tmp_path, unchanged):
    content = support.sales_csv(7, first_invoice=600300).encode()
    response = support.upload(server, _write(tmp_path, "atlantis.csv", content))
    _rejected(response, "unknown_region")
    assert support.files_with_content(server.data_dir, content) == []


def test_ragged_rows_are_rejected_with_their_lines_and_the_rest_loads(server, tmp_path):
    lines = support.sales_csv(6, first_invoice=600400).rstrip("\r\n").split("\r\n")
    lines[2] = lines[2].rsplit(",", 1)[0]            # line 3: 7 fields
    lines[5] = lines[5] + ",EXTRA"                    # line 6: 9 fields
    content = ("\r\n".join(lines) + "\r\n").encode()
    want = reference.load_bytes(content, "UK.csv")
    assert [r.line for r in want.rejects] == [3, 6]
    before = support.summary(server, region="UK")
    response = support.upload(server, _write(tmp_path, "UK.csv", content))
    assert response.status == 200, response.body
    [result] = support.uploads_of(response)
    assert result["status"] == "loaded"
    assert result["rows"] == {"read": 6, "loaded": 4, "rejected": 2, "duplicates": 0}
    assert [(r["line"], r["reason"]) for r in result["rejects"]] == [(3, "bad_field_count"), (6, "bad_field_count")]
    assert result["revenue"] == want.revenue_text
    assert result.get("rejects_uri"), "rejected lines must be stored and named"
    after = support.summary(server, region="UK")
    assert after["units"] - before["units"] == sum(r.quantity for r in want.rows)


def test_windows_1252_file_is_decoded_and_loaded(server, tmp_path):
    text = support.sales_csv(4, first_invoice=600500, description="GIFT TAG £5 NOTE")
    content = text.encode("cp1252")
    assert b"\xa3" in content
    want = reference.load_bytes(content, "UK.csv")
    assert want.encoding == "windows-1252"
    response = support.upload(server, _write(tmp_path, "UK.csv", content))
    assert response.status == 200, response.body
    [result] = support.uploads_of(response)
    assert result["status"] == "loaded"
    assert result["encoding"] == "windows-1252"
    assert result["rows"]["loaded"] == want.loaded == 4
    assert result["revenue"] == want.revenue_text
    summary = support.summary(server, product="£5")
    assert summary["units"] == sum(r.quantity for r in want.rows)


def test_request_cut_off_mid_body_loads_nothing(server, unchanged):
    content = support.sales_csv(2000, first_invoice=600600).encode()
    body, content_type = support.multipart("UK.csv", content)
    known = {record["id"] for record in support.history(server)}
    sock = support.connect(server, timeout=5)
    with sock:
        sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode())
        sock.sendall(body[: len(body) // 2])
    # A record of the broken upload may appear; wait (bounded) until it is final.
    deadline = time.monotonic() + 10
    while True:
        new = [r for r in support.history(server) if r["id"] not in known]
        if all(r.get("status") in FINAL for r in new) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [r for r in new if r.get("status") not in ("failed", "rejected")] == []
    assert all(r.get("rows", {}).get("loaded", 0) == 0 for r in new)
