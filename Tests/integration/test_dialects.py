"""Seed files as spreadsheets in other locales save them: semicolons with decimal commas, and
tabs. Uploaded with curl they load to the cent of the reference, and the answer names the
dialect it read; a file loaded once in one dialect is the same rows in another."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import reference
import support


def resave(source: Path, target: Path, delimiter: str, decimal_comma: bool) -> Path:
    """`source` written again with `delimiter` (Python's csv module quotes where needed), unit
    prices with a decimal comma when asked, as Excel in Germany or France writes them."""
    with open(source, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    price = rows[0].index("UnitPrice")
    if decimal_comma:
        for row in rows[1:]:
            row[price] = row[price].replace(".", ",")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


@pytest.mark.parametrize("delimiter, decimal_comma, name", [(";", True, "semicolon"), ("\t", False, "tab")])
def test_a_resaved_seed_file_loads_to_the_cent_and_names_its_dialect(fresh_server, seed, tmp_path, delimiter,
                                                                     decimal_comma, name):
    want = reference.load_file(str(seed / "IN.csv"))
    path = resave(seed / "IN.csv", tmp_path / "IN.csv", delimiter, decimal_comma)
    if decimal_comma:
        assert ";8,5;" in path.read_text()
    response = support.upload(fresh_server, path)
    assert response.status == 200, response.body[:2000]
    [result] = support.uploads_of(response)
    assert result["status"] == "loaded", result
    assert result["rows"] == {"read": want.read, "loaded": want.loaded, "rejected": want.rejected,
                              "duplicates": want.duplicates}
    assert result["revenue"] == want.revenue_text
    assert result["dialect"] == {"delimiter": name, "decimal_separator": "," if decimal_comma else "."}
    assert support.summary(fresh_server, region="IN")["revenue"] == want.revenue_text


def test_the_same_rows_in_another_dialect_are_duplicates_not_new_rows(fresh_server, seed, tmp_path):
    want = reference.load_file(str(seed / "IN.csv"))
    first = support.upload(fresh_server, seed / "IN.csv")
    assert first.status == 200 and support.uploads_of(first)[0]["status"] == "loaded"
    semicolons = resave(seed / "IN.csv", tmp_path / "IN.csv", ";", True)
    [again] = support.uploads_of(support.upload(fresh_server, semicolons))
    assert again["status"] == "loaded", again
    assert again["rows"]["loaded"] == 0
    assert again["rows"]["duplicates"] == want.read - want.rejected
    assert support.summary(fresh_server, region="IN")["revenue"] == want.revenue_text


def test_a_semicolon_file_with_a_missing_column_lists_what_it_has(fresh_server, tmp_path):
    path = tmp_path / "IN.csv"
    path.write_text("InvoiceNo;StockCode;Description;Quantity;InvoiceDate;Price;CustomerID;Country\r\n"
                    "536389;22941;LIGHTS;6;12/1/2010 10:03;8,5;12431;India\r\n")
    [result] = support.uploads_of(support.upload(fresh_server, path))
    assert result["status"] == "rejected" and result["error"] == "missing_columns", result
    assert "the header has 8: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, Price" in result["message"]


def test_the_uploader_can_name_the_delimiter_and_a_wrong_name_stores_nothing(fresh_server, seed, tmp_path):
    want = reference.load_file(str(seed / "IN.csv"))
    path = resave(seed / "IN.csv", tmp_path / "IN.csv", ";", True)
    [named] = support.uploads_of(support.upload(fresh_server, path, extra=("-F", "delimiter=semicolon")))
    assert named["status"] == "loaded" and named["revenue"] == want.revenue_text, named
    assert named["dialect"] == {"delimiter": "semicolon", "decimal_separator": ","}
    # Named wrongly, the header is one field: the answer says which names it found.
    comma = tmp_path / "comma" / "IN.csv"
    comma.parent.mkdir()
    comma.write_bytes((seed / "IN.csv").read_bytes())
    response = support.upload(fresh_server, comma, extra=("-F", "delimiter=tab"))
    [wrong] = support.uploads_of(response)
    assert wrong["status"] == "rejected" and wrong["error"] == "missing_columns", wrong
    assert "the header has 1: InvoiceNo,StockCode" in wrong["message"]
    # A delimiter that is not one of ours is refused before anything is stored.
    before = support.history(fresh_server)
    refused = support.upload(fresh_server, comma, extra=("-F", "delimiter=colon"))
    assert refused.status == 400, refused.body
    assert support.problem(refused)[0] == "bad_delimiter"
    assert support.history(fresh_server) == before
    # The query parameter works as the form field does.
    other = resave(seed / "usa.csv", tmp_path / "usa.csv", "|", False)
    query = support.curl(fresh_server.url("/api/uploads?delimiter=pipe"), "-F", f"file=@{other}")
    [piped] = support.uploads_of(query)
    assert piped["status"] == "loaded" and piped["dialect"]["delimiter"] == "pipe", piped
