#!/usr/bin/env python3
"""An independent reading of the sales data contract (README.md, "The data contract, in brief"
and "Report numbers"), written with the Python standard library only.

The integration tests compare the server's answers with this module's numbers.
It shares no code with the server on purpose: two readings of one contract.

As a module:
    result = load_file("IN.csv", region="IN")
    result.read, result.loaded, result.rejected, result.duplicates, result.revenue_text
    summary([result, ...], region="IN", date_from=date(2010, 12, 1))

As a command:
    python3 reference.py [--region R] [--day-first] FILE... [--country C] [--product P]
                         [--only-region R] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
prints one JSON object: per file counts and revenue, and the report summary.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Iterable

# --- configuration the contract names -------------------------------------------

REGIONS = {"IN": "IN", "INDIA": "IN",
           "UK": "UK", "GB": "UK", "GBR": "UK", "UNITED KINGDOM": "UK", "ENGLAND": "UK",
           "USA": "USA", "US": "USA", "UNITED STATES": "USA", "AMERICA": "USA"}
"""Region codes and aliases accepted from the form field or the file name's stem."""

NON_PRODUCT_CODES = frozenset({
    "POST", "DOT", "D", "M", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK",
    "PADS", "ADJUST", "ADJUST2", "TEST001", "TEST002",
})
NON_PRODUCT_PREFIXES = ("GIFT_",)

COLUMNS = ("invoice_no", "stock_code", "description", "quantity",
           "invoice_date", "unit_price", "customer_id", "country")
"""The columns of the input, in the seed files' order, by their canonical names."""

REQUIRED = COLUMNS
"""A file without one of these is rejected whole."""

HEADER_KEYS = {
    "invoiceno": "invoice_no",
    "stockcode": "stock_code",
    "description": "description",
    "quantity": "quantity",
    "invoicedate": "invoice_date",
    "unitprice": "unit_price",
    "customerid": "customer_id",
    "country": "country",
}
"""Header names trimmed, lower-cased and without `_`, `-`, spaces or tabs (so `InvoiceNo`,
` invoice_no `, `INVOICE NO`, `Invoice-No` all meet), mapped to the canonical column. No other
spelling (`Invoice`, `Price`, `Invoice.No`) names a column."""

CENT = Decimal("0.01")

csv.field_size_limit(sys.maxsize)  # a field is as long as the file lets it be; limits are the server's business


# --- results ---------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One cleaned order line."""
    region: str
    invoice_no: str
    stock_code: str
    description: str | None
    quantity: int
    invoice_ts: datetime
    unit_price: Decimal
    customer_id: str | None
    country: str
    line: int = field(compare=False)

    @property
    def revenue(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def is_cancellation(self) -> bool:
        return self.invoice_no[:1] in ("C", "c")

    @property
    def is_product(self) -> bool:
        return self.stock_code not in NON_PRODUCT_CODES and not self.stock_code.startswith(NON_PRODUCT_PREFIXES)

    def key(self) -> tuple:
        """The normalized fields that make two lines exact duplicates."""
        return (self.region, self.invoice_no, self.stock_code, self.description, self.quantity,
                self.invoice_ts, self.unit_price.normalize(), self.customer_id, self.country)


@dataclass
class Reject:
    line: int
    reason: str
    message: str


class FileRejected(Exception):
    """The file as a whole cannot be loaded (empty, no header, missing column...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FileResult:
    file: str
    region: str
    encoding: str = "utf-8"
    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    duplicates: int = 0
    extra_columns: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.loaded + self.rejected + self.duplicates

    @property
    def loaded(self) -> int:
        return len(self.rows)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def revenue(self) -> Decimal:
        return money(sum((r.revenue for r in self.rows if r.is_product), Decimal(0)))

    @property
    def revenue_text(self) -> str:
        return str(self.revenue)

    def as_json(self) -> dict:
        return {
            "file": self.file, "region": self.region, "encoding": self.encoding,
            "rows": {"read": self.read, "loaded": self.loaded, "rejected": self.rejected,
                     "duplicates": self.duplicates},
            "revenue": self.revenue_text,
            "extra_columns": self.extra_columns,
            "rejects": [r.__dict__ for r in self.rejects[:20]],
        }


def money(value: Decimal) -> Decimal:
    """Two places, half away from zero, as the contract rounds totals."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- region ----------------------------------------------------------------------

def region_for(file_name: str, form_region: str | None = None) -> str:
    """The region from the form field if given, else from the file name's stem."""
    if form_region and form_region.strip():
        wanted = form_region.strip()
    else:
        wanted = os.path.splitext(os.path.basename(file_name))[0]
    code = REGIONS.get(wanted.strip().upper())
    if code is None:
        raise FileRejected("unknown_region", f"unknown region {wanted!r}")
    return code


# --- decoding and the header -----------------------------------------------------

_CP1252 = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)
)
"""Windows-1252 with its five unassigned bytes mapped to the same code points (as browsers do)."""


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding name: UTF-8 (a leading BOM dropped) or Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return "".join(_CP1252[b] for b in data), "windows-1252"


def header_key(name: str) -> str:
    return re.sub(r"[_\- \t]", "", name.strip().lower())


def map_header(names: list[str]) -> tuple[dict[str, int], list[str]]:
    """Column name -> index, and the extra columns' names as given."""
    index: dict[str, int] = {}
    extra: list[str] = []
    for i, name in enumerate(names):
        column = HEADER_KEYS.get(header_key(name))
        if column is not None and column in index:
            raise FileRejected("duplicate_column", f"the header names column {name.strip()} more than once")
        if column is None:
            if name.strip():
                extra.append(name.strip())
        else:
            index[column] = i
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise FileRejected("missing_columns", "missing required column(s): " + ", ".join(missing))
    return index, extra


# --- field rules -----------------------------------------------------------------

_BLANKS = " \t\r\n"
"""What is trimmed from a field: ASCII spaces, tabs and line ends (not other Unicode spaces)."""
_SPACES = re.compile(r"[ \t]+")
_INTEGER = re.compile(r"([+-]?\d+)(?:\.0*)?")
"""Whole numbers; `12.0` and `12.` as spreadsheets write them are 12."""
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_FLOAT_ID = re.compile(r"(\d+)\.0*")
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:(?: +|T)" + _TIME + r"(?: *([AaPp][Mm]))?)?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:(?: +|T)" + _TIME + r"(?:[Zz]|[+-](\d{2}):?(\d{2})?)?)?")
INT64_MAX = 2 ** 63 - 1
MAX_ABS_QUANTITY = 1_000_000_000
"""etl.maxAbsQuantity of Config/default.json."""
MAX_ABS_LINE_REVENUE = Decimal(1_000_000_000)
"""etl.maxAbsLineRevenue of Config/default.json."""


class RowError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def trim(value: str) -> str:
    return value.strip(_BLANKS)


def clean_text(value: str) -> str:
    """Trimmed, with every run of spaces and tabs one space."""
    return _SPACES.sub(" ", trim(value))


def parse_quantity(value: str) -> int:
    m = _INTEGER.fullmatch(trim(value))
    if not m or abs(int(m.group(1))) > INT64_MAX:
        raise RowError("bad_quantity", f"Quantity {value!r} is not a whole number")
    return int(m.group(1))


def parse_price(value: str) -> Decimal:
    """An exact decimal of at most six places (further places only zeros) that fits in
    64-bit millionths."""
    text = trim(value)
    if not _DECIMAL.fullmatch(text):
        raise RowError("bad_price", f"UnitPrice {value!r} is not a decimal number")
    try:
        price = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already checked
        raise RowError("bad_price", f"UnitPrice {value!r} is not a decimal number")
    micros = price * 1_000_000
    if micros != micros.to_integral_value() or abs(micros) > INT64_MAX:
        raise RowError("bad_price", f"UnitPrice {value!r} has more than 6 places or is too large")
    return price


def parse_datetime(value: str, day_first: bool = False) -> datetime:
    """`M/D/YYYY H:MM` (also `M/D/YYYY`, seconds with a fraction, a `T` or spaces before the time,
    `AM`/`PM` with hours 1…12, and 2-digit years: 00–69 are 2000–2069, 70–99 are 1970–1999;
    D/M when day_first) or ISO 8601 (`YYYY-MM-DD[THH:MM[:SS[.fff]]]`, a `Z` or `±HH[:MM]`
    suffix ignored: the wall time is kept as written)."""
    text = trim(value)
    try:
        if m := _MDY.fullmatch(text):
            a, b, y, hh, mm, ss, meridiem = m.groups()
            month, day = (int(b), int(a)) if day_first else (int(a), int(b))
            year = int(y) if len(y) == 4 else int(y) + (2000 if int(y) < 70 else 1900)
            hour = int(hh or 0)
            if meridiem:
                if not 1 <= hour <= 12:
                    raise ValueError("hour out of range for AM/PM")
                hour = hour % 12 + (12 if meridiem.lower() == "pm" else 0)
            return datetime(year, month, day, hour, int(mm or 0), int(ss or 0))
        if m := _ISO.fullmatch(text):
            y, mo, d, hh, mm, ss, oh, om = m.groups()
            if (oh and int(oh) > 23) or (om and int(om) > 59):
                raise ValueError("offset out of range")
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        raise RowError("bad_date", f"InvoiceDate {value!r} is not a real date")
    raise RowError("bad_date", f"InvoiceDate {value!r} is not a date")


def customer(value: str) -> str | None:
    text = trim(value)
    if not text:
        return None
    if m := _FLOAT_ID.fullmatch(text):
        return m.group(1)
    return text


def make_row(fields: list[str], index: dict[str, int], region: str, line: int, day_first: bool) -> Row:
    def get(column: str) -> str:
        return fields[index[column]]

    invoice_no = trim(get("invoice_no"))
    if not invoice_no:
        raise RowError("missing_invoice_no", "InvoiceNo is blank")
    stock_code = trim(get("stock_code")).upper()
    if not stock_code:
        raise RowError("missing_stock_code", "StockCode is blank")
    quantity = parse_quantity(get("quantity"))
    when = parse_datetime(get("invoice_date"), day_first)
    price = parse_price(get("unit_price"))
    if abs(quantity) > MAX_ABS_QUANTITY:
        raise RowError("out_of_range", f"Quantity {quantity} is beyond ±{MAX_ABS_QUANTITY}")
    if abs(price * quantity) > MAX_ABS_LINE_REVENUE:
        raise RowError("out_of_range", f"Quantity × UnitPrice is beyond ±{MAX_ABS_LINE_REVENUE}")
    description = clean_text(get("description")) or None
    return Row(region=region, invoice_no=invoice_no, stock_code=stock_code, description=description,
               quantity=quantity, invoice_ts=when, unit_price=price,
               customer_id=customer(get("customer_id")), country=trim(get("country")), line=line)


# --- one file --------------------------------------------------------------------

def records(text: str) -> Iterable[tuple[int, list[str]]]:
    """(physical line where the record starts, fields) for every record, blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    start = 1
    for fields in reader:
        line = start
        start = reader.line_num + 1
        if not fields or fields == [""]:
            continue
        yield line, fields


def load_bytes(data: bytes, file_name: str, region: str | None = None, day_first: bool = False) -> FileResult:
    """Cleans one file's bytes by the contract. Raises FileRejected for a whole-file problem."""
    code = region_for(file_name, region)
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty")
    text, encoding = decode(data)
    result = FileResult(file=os.path.basename(file_name), region=code, encoding=encoding)
    items = records(text)
    try:
        _, header = next(items)
    except StopIteration:
        raise FileRejected("empty_file", "the file is empty")
    index, result.extra_columns = map_header(header)
    width = len(header)
    seen: set[tuple] = set()
    for line, fields in items:
        if len(fields) != width:
            result.rejects.append(Reject(line, "bad_field_count",
                                         f"expected {width} fields, found {len(fields)}"))
            continue
        try:
            row = make_row(fields, index, code, line, day_first)
        except RowError as error:
            result.rejects.append(Reject(line, error.reason, error.message))
            continue
        key = row.key()
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        result.rows.append(row)
    if result.read == 0:
        raise FileRejected("no_data_rows", "the file has a header but no data rows")
    return result


def load_file(path: str, region: str | None = None, day_first: bool = False) -> FileResult:
    with open(path, "rb") as handle:
        return load_bytes(handle.read(), path, region, day_first)


# --- report numbers --------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_lower(text: str) -> str:
    """Filters fold case in ASCII only, as the embedded warehouse does (SQLite's NOCASE and
    lower()); BigQuery's UPPER and LOWER fold all of Unicode."""
    return text.translate(_ASCII_LOWER)


def ascii_upper(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def matching_rows(results: Iterable[FileResult], region: str | None = None, country: str | None = None,
                  product: str | None = None, date_from: date | None = None, date_to: date | None = None) -> list[Row]:
    """The loaded rows of `results` that pass the report filters.

    Rows that appear in several files (same region and normalized fields) count once,
    as the warehouse keeps one row per row key.
    """
    rows: dict[tuple, Row] = {}
    for result in results:
        for row in result.rows:
            rows.setdefault(row.key(), row)
    wanted = []
    for row in rows.values():
        if region and row.region != ascii_upper(region):
            continue
        if country and ascii_lower(row.country) != ascii_lower(country):
            continue
        if product and not (ascii_lower(row.stock_code) == ascii_lower(product)
                            or ascii_lower(product) in ascii_lower(row.description or "")):
            continue
        day = row.invoice_ts.date()
        if date_from and day < date_from:
            continue
        if date_to and day > date_to:
            continue
        wanted.append(row)
    return wanted


def figures(rows: list[Row]) -> dict:
    """Revenue (text, to the cent), orders and units of some rows."""
    products = [r for r in rows if r.is_product]
    return {
        "revenue": str(money(sum((r.revenue for r in products), Decimal(0)))),
        "orders": len({(r.region, r.invoice_no) for r in rows if not r.is_cancellation}),
        "units": sum(r.quantity for r in products),
    }


def summary(results: Iterable[FileResult], **filters) -> dict:
    """The report numbers over the loaded rows of `results` that pass the filters."""
    wanted = matching_rows(results, **filters)
    numbers = figures(wanted)
    return {
        "revenue": numbers["revenue"],
        "orders": numbers["orders"],
        "cancellations": len({(r.region, r.invoice_no) for r in wanted if r.is_cancellation}),
        "units": numbers["units"],
        "customers": len({r.customer_id for r in wanted if r.customer_id is not None}),
    }


def period_start(day: date, grain: str) -> date:
    """First day of the period: the day, its ISO week's Monday, or the 1st of its month."""
    if grain == "week":
        return date.fromordinal(day.toordinal() - day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def time_series(results: Iterable[FileResult], grain: str, **filters) -> list[dict]:
    """Figures per period, oldest first, periods without rows left out."""
    periods: dict[date, list[Row]] = {}
    for row in matching_rows(results, **filters):
        periods.setdefault(period_start(row.invoice_ts.date(), grain), []).append(row)
    return [{"period": start.isoformat(), **figures(rows)} for start, rows in sorted(periods.items())]


def breakdown(results: Iterable[FileResult], by: str, limit: int, **filters) -> list[dict]:
    """The `limit` groups (region, country or stock code) with the highest revenue, ties by key."""
    groups: dict[str, list[Row]] = {}
    for row in matching_rows(results, **filters):
        key = {"region": row.region, "country": row.country, "product": row.stock_code}[by]
        groups.setdefault(key, []).append(row)
    answer = []
    for key, rows in groups.items():
        described = [r.description for r in rows if r.description is not None]
        label = max(described, key=lambda text: text.encode()) if by == "product" and described else None
        answer.append({"key": key, "label": label, **figures(rows),
                       "_exact": sum((r.revenue for r in rows if r.is_product), Decimal(0))})
    answer.sort(key=lambda g: (-g["_exact"], g["key"].encode()))
    for group in answer:
        del group["_exact"]
    return answer[:limit]


def invoices(results: Iterable[FileResult], **filters) -> list[dict]:
    """Every invoice (region, number) with a matching row, newest first."""
    grouped: dict[tuple[str, str], list[Row]] = {}
    for row in matching_rows(results, **filters):
        grouped.setdefault((row.region, row.invoice_no), []).append(row)
    answer = []
    for (region, number), rows in grouped.items():
        customers = [r.customer_id for r in rows if r.customer_id is not None]
        answer.append({
            "region": region, "invoice_no": number,
            "time": min(r.invoice_ts for r in rows).isoformat(timespec="seconds"),
            "country": min((r.country for r in rows), key=lambda text: text.encode()),
            "customer": min(customers, key=lambda text: text.encode()) if customers else None,
            "lines": len(rows),
            "revenue": str(money(sum((r.revenue for r in rows if r.is_product), Decimal(0)))),
            "is_cancellation": any(r.is_cancellation for r in rows),
        })
    answer.sort(key=lambda i: (i["region"].encode(), i["invoice_no"].encode()))
    answer.sort(key=lambda i: i["time"], reverse=True)
    return answer


def options(results: Iterable[FileResult]) -> dict:
    """Regions, countries and the first and last invoice date of the loaded rows."""
    rows = matching_rows(results)
    days = [r.invoice_ts.date() for r in rows]
    return {
        "regions": sorted({r.region for r in rows}),
        "countries": sorted({r.country for r in rows if r.country}, key=lambda text: text.encode()),
        "first_date": min(days).isoformat() if days else None,
        "last_date": max(days).isoformat() if days else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--region", help="region for every file (default: from each file name)")
    parser.add_argument("--day-first", action="store_true", help="dates are D/M/Y")
    parser.add_argument("--only-region", help="report filter: one region's rows")
    parser.add_argument("--country")
    parser.add_argument("--product")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat)
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat)
    args = parser.parse_args(argv)
    results, output = [], {"files": []}
    for path in args.files:
        try:
            result = load_file(path, args.region, args.day_first)
        except FileRejected as error:
            output["files"].append({"file": os.path.basename(path), "status": "rejected",
                                    "error": error.code, "message": error.message})
            continue
        results.append(result)
        output["files"].append(result.as_json())
    output["summary"] = summary(results, region=args.only_region, country=args.country,
                                product=args.product, date_from=args.date_from, date_to=args.date_to)
    json.dump(output, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
