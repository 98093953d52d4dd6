"""Inputs that do not decode are refused, never guessed at, through the real executable: a
filter with a bad percent escape, a NUL or invalid UTF-8 is a 400 naming the parameter (it once
meant "no filter" and answered every region's totals); an invoice number with a `/` opens by its
escaped form (`%2F` is split after routing, not before); a request body sent with
`Content-Encoding: gzip` is 415 and stores nothing."""
from __future__ import annotations

import gzip

import reference
import support


def test_a_filter_that_does_not_decode_is_400_naming_it_never_no_filter(fresh_server, seed):
    assert support.upload(fresh_server, seed / "IN.csv", seed / "usa.csv").status == 200
    want_in = reference.load_file(str(seed / "IN.csv"))
    for query, name in (("region=IN%00", "region"), ("region=%ZZ", "region"), ("region=%", "region"),
                        ("region=IN%C3%28", "region"), ("country=Ind%E9a", "country")):
        response = support.get(fresh_server, "/api/report/summary?" + query)
        assert response.status == 400, (query, response.status, response.body[:300])
        code, message = support.problem(response)
        assert code == "bad_query" and f'"{name}"' in message, (query, code, message)
    # The same filter written properly answers that region's totals only.
    good = support.get(fresh_server, "/api/report/summary?region=IN")
    assert good.status == 200 and good.json()["filter"]["region"] == "IN" and good.json()["revenue"] == want_in.revenue_text, good.body


def test_an_invoice_number_with_a_slash_opens_by_its_escaped_form(fresh_server, tmp_path):
    path = tmp_path / "UK.csv"
    path.write_text(support.HEADER + "\r\n"
                    "INV/2011/7,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,3/1/2011 9:00,2.55,17850,United Kingdom\r\n"
                    "INV/2011/7,71053,WHITE METAL LANTERN,2,3/1/2011 9:00,3.39,17850,United Kingdom\r\n")
    [result] = support.uploads_of(support.upload(fresh_server, path))
    assert result["status"] == "loaded" and result["rows"]["loaded"] == 2, result
    response = support.get(fresh_server, "/api/report/invoices/UK/INV%2F2011%2F7")
    assert response.status == 200, response.body[:300]
    invoice = response.json()
    assert invoice["invoice_no"] == "INV/2011/7"
    assert sorted(line["stock_code"] for line in invoice["lines"]) == ["71053", "85123A"]
    # Unescaped, the slashes are path separators: no such route.
    assert support.get(fresh_server, "/api/report/invoices/UK/INV/2011/7").status == 404


def test_a_gzip_encoded_request_body_is_415_and_stores_nothing(fresh_server, seed, tmp_path):
    body, content_type = support.multipart("IN.csv", (seed / "IN.csv").read_bytes())
    packed = tmp_path / "body.gz"
    packed.write_bytes(gzip.compress(body))
    response = support.curl(fresh_server.url("/api/uploads"), "--data-binary", f"@{packed}",
                            "-H", f"Content-Type: {content_type}", "-H", "Content-Encoding: gzip")
    assert response.status == 415, (response.status, response.body[:300])
    assert support.problem(response)[0] == "unsupported_content_encoding"
    assert support.history(fresh_server) == []
    # Sent plain, the same form loads.
    plain = support.curl(fresh_server.url("/api/uploads"), "--data-binary", f"@{tmp_path / 'body'}",
                         "-H", f"Content-Type: {content_type}") if (tmp_path / "body").write_bytes(body) else None
    assert plain is not None and plain.status == 200 and support.uploads_of(plain)[0]["status"] == "loaded", plain
