"""The reference itself, checked without a server: if it drifted from the contract,
every comparison with the server would be worthless."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

import reference

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def load(text: str, name: str = "UK.csv", **options) -> reference.FileResult:
    return reference.load_bytes(text.encode(), name, **options)


def test_seed_numbers(seed):
    india = reference.load_file(str(seed / "IN.csv"))
    usa = reference.load_file(str(seed / "usa.csv"))
    assert (india.region, india.read, india.loaded, india.rejected, india.duplicates, india.revenue_text) == \
        ("IN", 1259, 1258, 0, 1, "136922.50")
    assert (usa.region, usa.read, usa.loaded, usa.rejected, usa.duplicates, usa.revenue_text) == \
        ("USA", 291, 291, 0, 0, "1730.92")
    assert reference.summary([india, usa]) == {
        "revenue": "138653.42", "orders": 62, "cancellations": 14, "units": 84677, "customers": 13}


def test_header_in_any_case_order_and_snake_case_with_extra_columns():
    text = ("\ufeff Country ,unit_price,CUSTOMER_ID,invoice_no,stock_code,Notes,description,quantity,invoice_date\r\n"
            "United Kingdom,2.55,17850.0,536365,85123a,x,  WHITE   HANGING  ,6,12/1/2010 8:26\r\n")
    [row] = load(text).rows
    assert (row.invoice_no, row.stock_code, row.description, row.customer_id) == \
        ("536365", "85123A", "WHITE HANGING", "17850")
    assert row.unit_price == Decimal("2.55") and row.country == "United Kingdom"
    assert load(text).extra_columns == ["Notes"]


def test_missing_column_rejects_the_file_by_name():
    with pytest.raises(reference.FileRejected) as caught:
        load("InvoiceNo,StockCode,Description,InvoiceDate,UnitPrice,CustomerID,Country\n1,2,3,4,5,6,7\n")
    assert "quantity" in caught.value.message


@pytest.mark.parametrize("text", ["", "\ufeff", "\r\n\r\n", HEADER + "\r\n"])
def test_empty_or_header_only_file_is_rejected(text):
    with pytest.raises(reference.FileRejected):
        load(text)


@pytest.mark.parametrize("value, expected", [
    ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
    ("12/1/10 8:26", datetime(2010, 12, 1, 8, 26)),
    ("12/1/2010 08:26:59", datetime(2010, 12, 1, 8, 26, 59)),
    ("2010-12-01T08:26:00", datetime(2010, 12, 1, 8, 26)),
    ("2010-12-01 08:26", datetime(2010, 12, 1, 8, 26)),
])
def test_dates(value, expected):
    assert reference.parse_datetime(value) == expected


def test_day_first_dates_and_impossible_dates():
    assert reference.parse_datetime("1/12/2010 8:26", day_first=True) == datetime(2010, 12, 1, 8, 26)
    for bad in ("13/1/2010 8:26", "2/30/2011 10:00", "yesterday", "2010-13-01"):
        with pytest.raises(reference.RowError) as caught:
            reference.parse_datetime(bad)
        assert caught.value.reason == "bad_date"


def test_rejects_carry_lines_and_reasons():
    text = "\n".join([
        HEADER,
        "1,A,x,1,12/1/2010 8:26,1.00,,UK",          # line 2: fine
        "2,A,x,one,12/1/2010 8:26,1.00,,UK",        # 3: quantity
        "3,A,x,1,12/1/2010 8:26,1.0.0,,UK",         # 4: price
        "4,A,x,1,12/40/2010 8:26,1.00,,UK",         # 5: date
        ",A,x,1,12/1/2010 8:26,1.00,,UK",           # 6: invoice
        "6,,x,1,12/1/2010 8:26,1.00,,UK",           # 7: stock code
        "7,A,x,1,12/1/2010 8:26,1.00,UK",           # 8: field count
        "",                                         # 9: blank, not a record
        '8,A,"multi',                               # 10-11: one record on two lines
        'line, quoted",2,12/1/2010 8:26,1.50,,UK',
        "9,A,x,1,12/1/2010 8:26,1.00,,UK,extra",    # 12: field count
    ]) + "\n"
    result = load(text)
    assert [(r.line, r.reason) for r in result.rejects] == [
        (3, "bad_quantity"), (4, "bad_price"), (5, "bad_date"), (6, "missing_invoice_no"),
        (7, "missing_stock_code"), (8, "bad_field_count"), (12, "bad_field_count")]
    assert [(r.line, r.description) for r in result.rows] == [(2, "x"), (10, "multi\nline, quoted")]  # only spaces collapse
    assert result.read == 9


def test_exact_duplicates_are_dropped_and_counted_after_normalizing():
    text = "\n".join([HEADER,
                      "1,a,  x  y,2,12/1/2010 8:26,1.5,17850.0,UK",
                      "1,A,x y,2,12/1/2010 8:26,1.50,17850,UK",
                      "1,A,x y,3,12/1/2010 8:26,1.50,17850,UK"]) + "\n"
    result = load(text)
    assert (result.read, result.loaded, result.duplicates) == (3, 2, 1)


def test_revenue_counts_products_only_and_cancellations_net():
    text = "\n".join([HEADER,
                      "1,A,x,3,12/1/2010 8:26,0.335,1,UK",
                      "C2,A,x,-1,12/1/2010 9:00,0.335,1,UK",
                      "3,POST,postage,1,12/1/2010 9:00,18.00,1,UK",
                      "4,gift_0001_20,voucher,1,12/1/2010 9:00,20.00,,UK",
                      "5,BANK CHARGES,fee,1,12/1/2010 9:00,15.00,2,UK"]) + "\n"
    result = load(text)
    assert result.revenue_text == "0.67"  # 2 × 0.335 = 0.670
    numbers = reference.summary([result])
    assert numbers == {"revenue": "0.67", "orders": 4, "cancellations": 1, "units": 2, "customers": 2}


def test_revenue_rounds_half_up_once_over_the_total():
    text = "\n".join([HEADER, "1,A,x,1,12/1/2010 8:26,0.005,1,UK", "2,A,x,1,12/1/2010 8:26,0.004,1,UK"]) + "\n"
    assert load(text).revenue_text == "0.01"
    assert reference.money(Decimal("-0.005")) == Decimal("-0.01")


def test_windows_1252_is_decoded():
    data = (HEADER + "\r\n1,A,TAG \xa35,1,12/1/2010 8:26,1.00,,UK\r\n").encode("cp1252")
    result = reference.load_bytes(data, "uk.csv")
    assert result.encoding == "windows-1252"
    assert result.rows[0].description == "TAG £5"


def test_region_from_field_or_file_name():
    assert reference.region_for("usa.csv") == "USA"
    assert reference.region_for("/x/In.CSV") == "IN"
    assert reference.region_for("export.csv", "uk") == "UK"
    with pytest.raises(reference.FileRejected):
        reference.region_for("mars.csv")


def test_summary_filters():
    text = "\n".join([HEADER,
                      "1,A,red mug,1,12/1/2010 8:26,1.00,1,France",
                      "2,B2,blue cup,2,12/2/2010 8:26,1.00,2,Spain"]) + "\n"
    rows = [load(text)]
    assert reference.summary(rows, country="france")["units"] == 1
    assert reference.summary(rows, product="b2")["units"] == 2
    assert reference.summary(rows, product="MUG")["units"] == 1
    assert reference.summary(rows, date_from=date(2010, 12, 2))["units"] == 2
    assert reference.summary(rows, date_to=date(2010, 12, 1))["units"] == 1
    assert reference.summary(rows, region="IN")["units"] == 0
