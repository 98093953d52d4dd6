"""The upload page and its files, served from Public/ with validators."""
from __future__ import annotations

import support


def test_page_is_html_with_a_form_that_works_without_javascript(server):
    response = support.get(server, "/")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.body.decode()
    assert 'action="/api/uploads"' in page
    assert 'enctype="multipart/form-data"' in page
    assert 'name="file"' in page


def test_script_has_a_javascript_content_type(server):
    response = support.get(server, "/app.js")
    assert response.status == 200
    assert "javascript" in response.headers["content-type"]
    assert b"XMLHttpRequest" in response.body


def test_stylesheet_has_a_css_content_type(server):
    response = support.get(server, "/app.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")


def test_etag_revalidation_answers_304_without_a_body(server):
    first = support.get(server, "/app.js")
    etag = first.headers.get("etag")
    assert etag, first.headers
    again = support.get(server, "/app.js", "-H", f"If-None-Match: {etag}")
    assert again.status == 304
    assert again.body == b""
    changed = support.get(server, "/app.js", "-H", 'If-None-Match: "not-the-tag"')
    assert changed.status == 200


def test_path_traversal_does_not_leave_the_public_folder(server):
    for path in ("/../Package.swift", "/%2e%2e/Package.swift", "/..%2fPackage.swift"):
        response = support.get(server, path, "--path-as-is")
        assert response.status in (400, 403, 404), (path, response.status)
        assert b"PackageDescription" not in response.body


def test_missing_file_is_404(server):
    assert support.get(server, "/no-such-file.js").status == 404
