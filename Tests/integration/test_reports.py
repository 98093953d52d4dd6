"""The report API (/api/report/*) answers the reference's numbers for the seed files and a
generated file, under several filter combinations; bad parameters get 400, unknown invoices 404;
new rows show up at once (answers are cached only while the rows are unchanged)."""
from __future__ import annotations

import urllib.parse
from datetime import date

import pytest

import reference
import support

FILTERS = [
    {},
    {"region": "IN"},
    {"region": "usa"},
    {"region": "UK"},
    {"country": "France"},
    {"country": "india"},
    {"product": "heart"},
    {"product": "85123a"},
    {"date_from": date(2011, 3, 1), "date_to": date(2011, 3, 31)},
    {"region": "IN", "date_from": date(2011, 6, 1)},
    {"region": "UK", "country": "Germany", "date_to": date(2011, 3, 10)},
    {"product": "lantern", "date_from": date(2010, 12, 1), "date_to": date(2011, 12, 31)},
    {"region": "US"},
]


def query(filters: dict, **extra) -> str:
    names = {"date_from": "from", "date_to": "to"}
    params = {names.get(k, k): (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items()}
    params.update({k: v for k, v in extra.items() if v is not None})
    return urllib.parse.urlencode(params)


def report(server, path: str, filters: dict | None = None, **extra) -> dict:
    text = query(filters or {}, **extra)
    response = support.get(server, f"/api/report/{path}" + ("?" + text if text else ""))
    assert response.status == 200, (path, response.status, response.body)
    return response.json()


@pytest.fixture(scope="module")
def loaded(server, seed, tmp_path_factory):
    """The seed files and a generated UK file (France and Germany) loaded once; their reference results."""
    folder = tmp_path_factory.mktemp("generated")
    generated = folder / "UK.csv"
    text = support.sales_csv(1200, first_invoice=710000, country="France")
    text += support.sales_csv(800, first_invoice=720000, country="Germany",
                              description="WHITE METAL LANTERN").split("\r\n", 1)[1]
    generated.write_text(text, newline="")
    files = [seed / "IN.csv", seed / "usa.csv", generated]
    response = support.upload(server, *files, timeout=120)
    assert response.status == 200, response.body
    assert all(u["status"] == "loaded" for u in support.uploads_of(response)), response.body
    return [reference.load_file(str(path)) for path in files]


@pytest.mark.parametrize("filters", FILTERS, ids=[query(f) or "all" for f in FILTERS])
def test_summary_equals_the_reference(server, loaded, filters):
    got = report(server, "summary", filters)
    want = reference.summary(loaded, **filters)
    assert {k: got[k] for k in want} == want


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("filters", FILTERS, ids=[query(f) or "all" for f in FILTERS])
def test_time_series_equals_the_reference(server, loaded, filters, grain):
    got = report(server, "timeseries", filters, grain=grain)
    assert got["grain"] == grain
    assert got["points"] == reference.time_series(loaded, grain, **filters)


@pytest.mark.parametrize("by,limit", [("region", 10), ("country", 5), ("product", 10), ("product", 500)])
@pytest.mark.parametrize("filters", FILTERS[:9], ids=[query(f) or "all" for f in FILTERS[:9]])
def test_breakdown_equals_the_reference(server, loaded, filters, by, limit):
    got = report(server, "breakdown", filters, by=by, limit=limit)
    assert got["by"] == by
    assert got["groups"] == reference.breakdown(loaded, by, limit, **filters)


def test_options_list_what_is_loaded(server, loaded):
    got = report(server, "options")
    want = reference.options(loaded)
    assert {k: got[k] for k in want} == want
    assert got["mode"] == "embedded" and got["looker_url"] is None
    assert got["currency"] == "GBP"


@pytest.mark.parametrize("filters", [{}, {"region": "UK", "country": "Germany"}, {"product": "heart"},
                                     {"region": "IN", "date_from": date(2011, 6, 1)}],
                         ids=["all", "uk-germany", "heart", "in-june"])
def test_invoice_pages_cover_the_reference_newest_first(server, loaded, filters):
    want = reference.invoices(loaded, **filters)
    got, page = [], 1
    while True:
        answer = report(server, "invoices", filters, page=page, page_size=40)
        assert answer["total"] == len(want) and answer["page"] == page and answer["page_size"] == 40
        got += answer["invoices"]
        if len(answer["invoices"]) < 40:
            break
        page += 1
    assert got == want


def test_an_invoice_shows_its_lines_and_totals(server, loaded):
    invoices = reference.invoices(loaded)
    for invoice in [invoices[0], invoices[len(invoices) // 2], invoices[-1]]:
        path = f"/api/report/invoices/{invoice['region']}/{urllib.parse.quote(invoice['invoice_no'])}"
        response = support.get(server, path)
        assert response.status == 200, response.body
        body = response.json()
        assert (body["region"], body["invoice_no"]) == (invoice["region"], invoice["invoice_no"])
        assert len(body["lines"]) == invoice["lines"]
        assert body["revenue"] == invoice["revenue"]
        assert body["time"] == invoice["time"]
        assert body["is_cancellation"] == invoice["is_cancellation"]
        rows = [r for r in reference.matching_rows(loaded, region=invoice["region"]) if r.invoice_no == invoice["invoice_no"]]
        assert sorted(l["source_line"] for l in body["lines"]) == sorted(r.line for r in rows)
        for line in body["lines"]:
            assert isinstance(line["unit_price"], str) and isinstance(line["revenue"], str)


def test_bad_parameters_are_refused_and_unknown_invoices_are_not_found(server, loaded):
    for path, code in [("/api/report/timeseries?grain=year", "bad_grain"),
                       ("/api/report/breakdown?by=customer", "bad_dimension"),
                       ("/api/report/breakdown?by=region&limit=0", "bad_limit"),
                       ("/api/report/invoices?page_size=100000", "bad_page_size"),
                       ("/api/report/invoices?page=-1", "bad_page"),
                       ("/api/report/summary?from=2011-13-01", "bad_date"),
                       ("/api/report/timeseries?from=2011-05-01&to=2011-04-01", "bad_range")]:
        response = support.get(server, path)
        assert response.status == 400, (path, response.status, response.body)
        assert support.problem(response)[0] == code
    response = support.get(server, "/api/report/invoices/UK/NOPE-1")
    assert response.status == 404


def test_money_is_always_a_decimal_string(server, loaded):
    assert isinstance(report(server, "summary")["revenue"], str)
    for point in report(server, "timeseries", grain="month")["points"]:
        assert isinstance(point["revenue"], str) and "." in point["revenue"]
    for group in report(server, "breakdown", by="country")["groups"]:
        assert isinstance(group["revenue"], str)


def test_dashboard_page_is_served(server):
    response = support.get(server, "/dashboard")
    assert response.status == 200
    assert "Sales dashboard" in response.body.decode()
    for asset in ("/dashboard.js", "/dashboard.css"):
        assert support.get(server, asset).status == 200


def test_new_rows_show_up_in_cached_answers(fresh_server, seed):
    before = report(fresh_server, "summary")
    assert before["orders"] == 0
    assert report(fresh_server, "options")["regions"] == []
    assert support.upload(fresh_server, seed / "IN.csv").status == 200
    results = [reference.load_file(str(seed / "IN.csv"))]
    assert {k: v for k, v in report(fresh_server, "summary").items() if k in reference.summary(results)} == reference.summary(results)
    assert report(fresh_server, "options")["regions"] == ["IN"]
    assert support.upload(fresh_server, seed / "usa.csv").status == 200
    results.append(reference.load_file(str(seed / "usa.csv")))
    assert report(fresh_server, "timeseries", grain="month")["points"] == reference.time_series(results, "month")
