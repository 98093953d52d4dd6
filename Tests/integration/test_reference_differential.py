"""The reference against the server on generated edge rows: two-digit years, AM/PM, ISO times
with `Z` or offsets, fractions of seconds, more than six decimals, out-of-range values, tabs,
spreadsheet numbers, Unicode, blanks and exact duplicates. The file goes through
`sales-portal ingest`; the stored rows are read back from SQLite and the rejected lines from
rejects.csv, and each must be what reference.py makes of the same bytes."""
from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import reference
import support

INVOICES = ["536365", " 536366 ", "C536379", "c536380", "", "\t537000", "A563185"]
STOCK_CODES = ["85123A", "85123a", " post ", "POST", "gift_0001_20", "", "ß12", "é99", "bank charges", "\t22633", "m"]
DESCRIPTIONS = ["WHITE HANGING HEART", "  two  spaces  ", "tab\there", "", "   ", "mixed \t run", "Ünïcödé  text",
                "comma, inside", 'quote "x"', "line\nbreak"]
QUANTITIES = ["6", "-3", "+4", "12.0", "12.", "12.00", "12.5", "one", "", " 7 ", "1000000000", "1000000001",
              "-1000000001", "99999999999999999999", "0", "\t8"]
DATES = ["12/1/2010 8:26", "12/1/10 8:26", "1/2/70 0:00", "1/2/69 23:59", "6/30/99 10:00", "12/1/2010 8:26 AM",
         "12/1/2010 12:26 PM", "12/1/2010 12:00 am", "12/1/2010 0:30 AM", "12/1/2010 13:00 PM", "12/1/2010 8:26pm",
         "2010-12-01", "2010-12-01T08:26:00", "2010-12-01 08:26", "2010-12-01T08:26:00Z", "2010-12-01T08:26:00+05:30",
         "2010-12-01T08:26:00-0800", "2010-12-01T08:26:00.123456", "2010-12-01T8:26", "12/1/2010T08:26",
         "12/1/2010  8:26", "2/30/2011 8:00", "2/29/2012 8:00", "13/1/2011 8:00", "12/1/2010 24:00", "12/1/2010 8:60",
         "12/1/2010 8:26:59", "12/1/2010 8:26:60", "12/1/2010 8:26:05.5", "2010-12-01T08:26:00+24:00",
         "2010-12-01T08:26+05", "12/1/201 8:26", "12/1/2010 8:26 XM", "0000-01-01", "12/1/2010 8:26 ", "\t12/1/2010 8:26",
         "12/1/2010", "2010-12-01T08:26:00 Z", "12/1/2010 8:26:00 PM", "12/1/2010 8:5", "1/1/0001", "12/31/9999 23:59"]
PRICES = ["2.55", "0.335", ".5", "5.", "1.2500000", "1.2345678", "1.1234561", "-1.50", "+3", "", "abc", "1e3",
          "9223372036854.775807", "9223372036855", "1000000001", "0", " 4.20\t", "1.000001", "."]
CUSTOMERS = ["17850", "17850.0", "17850.", "17850.5", "", "  ", "A17850", ".0", "12346.000"]
COUNTRIES = ["United Kingdom", " France ", "Ünited", "", "\tSpain"]

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def edge_file(seed: int, rows: int) -> bytes:
    """`rows` records mixing the edge values above, every value of each list at least once,
    and some exact duplicates (also differing only in blanks the load trims)."""
    rng = random.Random(seed)
    lists = [INVOICES, STOCK_CODES, DESCRIPTIONS, QUANTITIES, DATES, PRICES, CUSTOMERS, COUNTRIES]
    ordinary = ["536365", "85123A", "WHITE HANGING HEART", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"]
    records: list[list[str]] = []
    for column, values in enumerate(lists):   # each value once, in an otherwise ordinary row
        for value in values:
            record = list(ordinary)
            record[column] = value
            record[0] = record[0] if column == 0 else str(600000 + len(records))
            records.append(record)
    while len(records) < rows:
        if records and rng.random() < 0.08:
            copy = list(rng.choice(records))
            if rng.random() < 0.5:
                copy[2] = " " + copy[2] + "  "
            records.append(copy)
        else:
            records.append([rng.choice(values) for values in lists])
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(records)
    return text.getvalue().encode("utf-8")


def seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def server_view(tmp_path: Path, data: bytes) -> tuple[dict, list[tuple], list[tuple[int, str]]]:
    """Ingests `data` as UK.csv: (the upload result, the stored rows, the rejected (line, reason))."""
    path = tmp_path / "UK.csv"
    path.write_bytes(data)
    data_dir = tmp_path / "data"
    done = subprocess.run([str(support.binary_path()), "ingest", str(path), "--data-dir", str(data_dir)],
                          capture_output=True, timeout=300, cwd=support.REPO_ROOT)
    [result] = json.loads(done.stdout)["uploads"]
    assert result["status"] == "loaded", result
    with sqlite3.connect(data_dir / "warehouse.sqlite") as database:
        rows = database.execute(
            "SELECT source_line, invoice_no, stock_code, description, quantity, invoice_time, unit_price_micros, "
            "customer_id, country, is_cancellation, is_product FROM order_rows ORDER BY source_line").fetchall()
    [rejects_csv] = list((data_dir / "objects").rglob("rejects.csv")) or [None]
    rejects: list[tuple[int, str]] = []
    if rejects_csv is not None:
        for record in list(csv.reader(io.StringIO(rejects_csv.read_text(encoding="utf-8"), newline="")))[1:]:
            line, reason, _ = record[-1].split(": ", 2)
            rejects.append((int(line.removeprefix("line ")), reason))
    return result, rows, rejects


def reference_view(data: bytes) -> tuple[reference.FileResult, list[tuple], list[tuple[int, str]]]:
    want = reference.load_bytes(data, "UK.csv")
    rows = [(r.line, r.invoice_no, r.stock_code, r.description, r.quantity, seconds(r.invoice_ts),
             int(r.unit_price * 1_000_000), r.customer_id, r.country, int(r.is_cancellation), int(r.is_product))
            for r in want.rows]
    return want, rows, [(r.line, r.reason) for r in want.rejects]


def test_the_reference_and_the_server_agree_on_edge_rows(tmp_path):
    data = edge_file(seed=20101201, rows=1500)
    result, got_rows, got_rejects = server_view(tmp_path, data)
    want, want_rows, want_rejects = reference_view(data)
    # Both sides meet every kind of row: loaded, rejected for each reason, duplicates.
    assert {reason for _, reason in want_rejects} >= {"bad_quantity", "bad_price", "bad_date", "out_of_range",
                                                       "missing_invoice_no", "missing_stock_code"}
    assert want.duplicates > 0 and len(want_rows) > 100
    by_line = {row[0]: row for row in got_rows}
    differences = [(want_row, by_line.get(want_row[0])) for want_row in want_rows if by_line.get(want_row[0]) != want_row]
    assert differences[:10] == [], f"{len(differences)} rows differ (reference, server)"
    assert len(got_rows) == len(want_rows)
    assert sorted(got_rejects) == sorted(want_rejects)
    assert result["rows"] == {"read": want.read, "loaded": want.loaded, "rejected": want.rejected,
                              "duplicates": want.duplicates}
    assert result["revenue"] == want.revenue_text


def test_the_reference_and_the_server_filter_non_ascii_text_alike(fresh_server, tmp_path):
    # Case folds in ASCII only (the embedded warehouse): `ÜNITED` finds `Ünited`, `ünited` does not.
    lines = [",".join(HEADER),
             "1,é99,Ünïcödé text,1,12/1/2010 8:26,1.00,1,Ünited",
             "2,b2,plain mug,2,12/1/2010 8:26,1.00,2,ünited",
             "3,ß12,Straße,4,12/1/2010 8:26,1.00,3,France"]
    data = ("\r\n".join(lines) + "\r\n").encode()
    path = tmp_path / "UK.csv"
    path.write_bytes(data)
    assert support.upload(fresh_server, path).status == 200
    results = [reference.load_bytes(data, "UK.csv")]
    filters = [{"country": "ÜNITED"}, {"country": "ünited"}, {"country": "Ünited"}, {"country": "FRANCE"},
               {"product": "é99"}, {"product": "É99"}, {"product": "ünïcödé"}, {"product": "ÜNÏCÖDÉ"},
               {"product": "ÜnÏCÖDÉ TEXT"}, {"product": "MUG"}, {"product": "ss12"}, {"product": "SS12"},
               {"product": "STRAßE"}, {"product": "strasse"}]
    got = [support.summary(fresh_server, **f)["units"] for f in filters]
    want = [reference.summary(results, **f)["units"] for f in filters]
    assert got == want, list(zip(filters, got, want))
    assert 0 in want and any(want)


HEADER_SPELLINGS = [
    HEADER,
    ["invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country"],
    [" INVOICE NO ", "Stock-Code", "description", "QUANTITY", "Invoice\tDate", "unit price", "CustomerID", "Country"],
    ["Country", "CustomerID", "UnitPrice", "InvoiceDate", "Quantity", "Description", "StockCode", "InvoiceNo", "Notes"],
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country", ""],
    ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
    ["InvoiceNumber", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "CustomerID", "Country"],
    ["Invoice.No", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
     "invoice_no"],
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
]


def test_the_reference_and_the_server_read_header_spellings_alike(tmp_path):
    """Which spellings name a column (case, spaces, `_`, `-`, tabs aside; no aliases), a column
    named twice, a blank name, a missing column: the server and the reference decide alike."""
    row = {"invoiceno": "536365", "stockcode": "85123A", "description": "WHITE HANGING HEART", "quantity": "6",
           "invoicedate": "12/1/2010 8:26", "unitprice": "2.55", "customerid": "17850", "country": "United Kingdom"}
    outcomes = []
    for number, names in enumerate(HEADER_SPELLINGS):
        key = [reference.header_key(name) for name in names]
        values = [row.get(k, "x") for k in key]
        text = io.StringIO(newline="")
        csv.writer(text, lineterminator="\r\n").writerows([names, values])
        data = text.getvalue().encode("utf-8")
        path = tmp_path / f"case{number}" / "UK.csv"
        path.parent.mkdir()
        path.write_bytes(data)
        done = subprocess.run([str(support.binary_path()), "ingest", str(path), "--data-dir", str(path.parent / "data")],
                              capture_output=True, timeout=120, cwd=support.REPO_ROOT)
        [result] = json.loads(done.stdout)["uploads"]
        server = (result["status"], result.get("error"), result.get("extra_columns", []))
        try:
            want = reference.load_bytes(data, "UK.csv")
            expected = ("loaded", None, want.extra_columns)
        except reference.FileRejected as refused:
            expected = ("rejected", refused.code, [])
        outcomes.append((names, server, expected))
    assert [(n, s) for n, s, e in outcomes if s != e] == [], [(n, s, e) for n, s, e in outcomes if s != e]
    # Both kinds of answer were met, and each refusal reason.
    assert {e[1] for _, _, e in outcomes} == {None, "missing_columns", "duplicate_column"}
