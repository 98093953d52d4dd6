"""HTTP caching checked by REDbot, the HTTP linter: no BAD or WARN note on the pages, their
files, health and the JSON answers, with the server in its default mode (no sign-in, loopback).

REDbot makes the requests itself: the plain GET, then a gzip-negotiated one (whose ETag must
differ from the identity one's, with `Vary: Accept-Encoding` on both) and a conditional one
with the ETag it got (which must be answered 304)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import support

RUNNER = Path(__file__).with_name("redbot_support.py")
REDBOT_TIMEOUT = 120.0

# Path → the notes REDbot must give besides having no BAD or WARN one: the conditional request
# answered 304 (INM_304), gzip negotiated (CONNEG_GZIP_GOOD), or not storable at all (STORE_NO_STORE).
CHECKED = {
    "/": {"STORE_NO_STORE", "CONNEG_GZIP_GOOD"},
    "/app.css": {"INM_304", "CONNEG_GZIP_GOOD"},
    "/app.js": {"INM_304", "CONNEG_GZIP_GOOD"},
    "/dashboard.js": {"INM_304", "CONNEG_GZIP_GOOD"},
    "/dashboard.css": {"INM_304", "CONNEG_GZIP_GOOD"},
    "/favicon.svg": {"INM_304"},
    "/dashboard": {"STORE_NO_STORE", "CONNEG_GZIP_GOOD"},
    "/healthz": {"STORE_NO_STORE"},
    "/api/report/summary": {"INM_304"},
    "/api/report/summary?region=IN": {"INM_304"},
    "/api/uploads": {"INM_304", "CONNEG_GZIP_GOOD"},
}


@pytest.fixture(scope="module")
def loaded_server(seed):
    """A server with both sample files loaded, so the history and the reports have content
    (and the history is large enough to be sent compressed)."""
    running = support.start_server()
    try:
        response = support.upload(running, seed / "IN.csv", seed / "usa.csv")
        assert response.status == 200, response.body[:500]
        yield running
    finally:
        support.stop_and_check(running)


def redbot_notes(url: str) -> list[dict]:
    if importlib.util.find_spec("redbot") is None:
        pytest.skip("REDbot is not installed: pip install -r Tests/integration/requirements.txt")
    result = subprocess.run([sys.executable, str(RUNNER), url], capture_output=True, text=True,
                            timeout=REDBOT_TIMEOUT)
    assert result.returncode == 0, f"REDbot failed on {url} ({result.returncode}):\n{result.stderr[-4000:]}"
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def describe(notes: list[dict]) -> str:
    return "\n".join("  " * (1 + note["depth"]) + f"{note['level'].upper()} [{note['category']}] "
                     f"{note['summary']} ({note['name']})" for note in notes)


@pytest.mark.parametrize("path", list(CHECKED))
def test_redbot_finds_nothing_bad_or_worth_a_warning(loaded_server, path):
    notes = redbot_notes(loaded_server.url(path))
    assert notes, f"REDbot gave no note at all on {path}"
    problems = [note for note in notes if note["level"] in ("bad", "warning")]
    assert not problems, f"REDbot on {path}:\n{describe(problems)}\n\nall notes:\n{describe(notes)}"
    missing = CHECKED[path] - {note["name"] for note in notes}
    assert not missing, f"REDbot on {path} lacks {sorted(missing)}; its notes:\n{describe(notes)}"


def test_each_encoding_has_its_own_etag_and_revalidates_with_it(loaded_server):
    for path in ("/app.js", "/api/uploads"):
        plain = support.get(loaded_server, path)
        packed = support.get(loaded_server, path, "-H", "Accept-Encoding: gzip")
        assert plain.status == packed.status == 200, (path, plain.status, packed.status)
        assert packed.headers.get("content-encoding") == "gzip", (path, packed.headers)
        assert "content-encoding" not in plain.headers, (path, plain.headers)
        plain_tag, packed_tag = plain.headers["etag"], packed.headers["etag"]
        assert plain_tag != packed_tag, (path, plain_tag)
        for response in (plain, packed):
            assert "accept-encoding" in response.headers.get("vary", "").lower(), (path, response.headers)
        # Each representation revalidates with its own tag, not with the other one's.
        same = support.get(loaded_server, path, "-H", f"If-None-Match: {packed_tag}", "-H", "Accept-Encoding: gzip")
        assert same.status == 304 and same.body == b"" and same.headers["etag"] == packed_tag, (path, same.status)
        assert same.headers.get("cache-control") == packed.headers.get("cache-control")
        same = support.get(loaded_server, path, "-H", f"If-None-Match: {plain_tag}")
        assert same.status == 304 and same.headers["etag"] == plain_tag, (path, same.status)
        crossed = support.get(loaded_server, path, "-H", f"If-None-Match: {packed_tag}")
        assert crossed.status == 200 and crossed.body == plain.body, (path, crossed.status)
