"""A dry run (`POST /api/uploads?dry_run=1`, or the form field `dry_run`): each file is read,
cleaned and counted as an upload would be, the answer shows the first rows as they would be
stored, and nothing is stored or recorded: no raw file, no history entry, no rows."""
from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import reference
import support


def dry_run(server: support.Server, *files: Path, region: str | None = None, extra: tuple[str, ...] = ()) -> support.Response:
    args: list[str] = []
    for path in files:
        args += ["-F", f"file=@{path}"]
    if region is not None:
        args += ["-F", f"region={region}"]
    return support.curl(server.url("/api/uploads?dry_run=1"), *args, *extra)


def files_of(response: support.Response) -> list[dict]:
    body = response.json()
    assert body["dry_run"] is True and isinstance(body["files"], list), body
    return body["files"]


def stored_files(server: support.Server) -> list[Path]:
    objects = server.data_dir / "objects"
    return [path for path in objects.rglob("*") if path.is_file()] if objects.exists() else []


def test_a_dry_run_counts_as_the_load_would_and_stores_nothing(fresh_server, seed):
    want = reference.load_file(str(seed / "IN.csv"))
    response = dry_run(fresh_server, seed / "IN.csv")
    assert response.status == 200, response.body[:2000]
    [checked] = files_of(response)
    assert checked["status"] == "checked" and checked["region"] == "IN" and checked["currency"] == "GBP"
    assert checked["rows"] == {"read": want.read, "loaded": want.loaded, "rejected": want.rejected,
                               "duplicates": want.duplicates}
    assert checked["revenue"] == want.revenue_text
    assert checked["dialect"] == {"delimiter": "comma", "decimal_separator": "."}
    # The first 20 rows as they would be stored, field by field as the reference cleans them.
    assert len(checked["sample"]) == 20
    for got, row in zip(checked["sample"], want.rows[:20]):
        assert got["line"] == row.line and got["invoice_no"] == row.invoice_no and got["stock_code"] == row.stock_code
        assert got["description"] == row.description and got["quantity"] == row.quantity
        assert got["invoice_date"] == row.invoice_ts.strftime("%Y-%m-%dT%H:%M:%S")
        assert Decimal(got["unit_price"]) == row.unit_price and Decimal(got["revenue"]) == row.revenue
        assert got["customer_id"] == row.customer_id and got["country"] == row.country
        assert got["is_cancellation"] == row.is_cancellation and got["is_product"] == row.is_product
    # Nothing stored, nothing recorded, no rows, no spool left behind.
    assert support.history(fresh_server) == []
    assert stored_files(fresh_server) == []
    assert support.summary(fresh_server)["orders"] == 0
    spool = fresh_server.data_dir / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []
    # The real upload then gives what the dry run said.
    [loaded] = support.uploads_of(support.upload(fresh_server, seed / "IN.csv"))
    assert loaded["status"] == "loaded" and loaded["rows"] == checked["rows"] and loaded["revenue"] == checked["revenue"]


def test_a_dry_run_lists_the_lines_a_load_would_reject(fresh_server, tmp_path):
    content = support.sales_csv(6, first_invoice=820000)
    lines = content.split("\r\n")
    lines[2] = lines[2].replace("3/1/2011", "13/45/2011")        # line 3: impossible date
    fields = lines[5].split(",")
    fields[3] = "six"                                               # line 6: a quantity in words
    lines[5] = ",".join(fields)
    path = tmp_path / "UK.csv"
    path.write_text("\r\n".join(lines))
    want = reference.load_file(str(path))
    assert {r.reason for r in want.rejects} == {"bad_date", "bad_quantity"}, want.rejects
    [checked] = files_of(dry_run(fresh_server, path))
    assert checked["status"] == "checked"
    assert [(r["line"], r["reason"]) for r in checked["rejects"]] == [(r.line, r.reason) for r in want.rejects]
    assert checked["rows"]["rejected"] == 2 and checked["rows"]["loaded"] == want.loaded
    assert [row["line"] for row in checked["sample"]] == [row.line for row in want.rows]
    assert stored_files(fresh_server) == [] and support.history(fresh_server) == []


def test_a_gzip_file_and_a_semicolon_file_are_checked_as_they_would_load(fresh_server, seed, tmp_path):
    want = reference.load_file(str(seed / "IN.csv"))
    packed = tmp_path / "IN.csv.gz"
    packed.write_bytes(gzip.compress((seed / "IN.csv").read_bytes()))
    [checked] = files_of(dry_run(fresh_server, packed))
    assert checked["gzip"] is True and checked["size"] == packed.stat().st_size
    assert checked["rows"]["loaded"] == want.loaded and checked["revenue"] == want.revenue_text
    semicolons = tmp_path / "UK.csv"
    semicolons.write_text("InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\r\n"
                          "536365;85123A;WHITE HANGING HEART;6;12/1/2010 8:26;2,55;17850;United Kingdom\r\n")
    [checked] = files_of(dry_run(fresh_server, semicolons))
    assert checked["dialect"] == {"delimiter": "semicolon", "decimal_separator": ","}
    assert checked["sample"][0]["unit_price"] == "2.55" and checked["sample"][0]["revenue"] == "15.30"
    assert stored_files(fresh_server) == [] and support.history(fresh_server) == []


def test_files_a_load_would_refuse_are_422_and_recorded_nowhere(fresh_server, tmp_path):
    unknown = tmp_path / "narnia.csv"
    unknown.write_text(support.sales_csv(2))
    wrong_columns = tmp_path / "IN.csv"
    wrong_columns.write_text("Invoice,Price\r\n1,2\r\n")
    response = dry_run(fresh_server, unknown, wrong_columns)
    assert response.status == 422, response.body
    first, second = files_of(response)
    assert (first["status"], first["error"], first["region"]) == ("rejected", "unknown_region", None)
    assert (second["status"], second["error"], second["region"]) == ("rejected", "missing_columns", "IN")
    assert first["sample"] == [] and second["rows"]["read"] == 0
    assert support.history(fresh_server) == [] and stored_files(fresh_server) == []


def test_a_dry_run_value_that_is_not_yes_or_no_is_400_and_stores_nothing(fresh_server, seed):
    response = support.curl(fresh_server.url("/api/uploads?dry_run=maybe"), "-F", f"file=@{seed / 'IN.csv'}")
    assert response.status == 400 and support.problem(response)[0] == "bad_dry_run", response.body
    # Asked for in the form and not (or blank) in the query: still only a check.
    for query in ("?dry_run=", "?dry_run=0"):
        checked = support.curl(fresh_server.url("/api/uploads" + query), "-F", "dry_run=1", "-F", f"file=@{seed / 'IN.csv'}")
        assert checked.status == 200 and files_of(checked)[0]["status"] == "checked", (query, checked.body[:300])
    assert support.history(fresh_server) == [] and stored_files(fresh_server) == []
    # As a form field, `dry_run=0` is a real upload.
    real = support.upload(fresh_server, seed / "IN.csv", extra=("-F", "dry_run=0"))
    assert support.uploads_of(real)[0]["status"] == "loaded"
    spool = fresh_server.data_dir / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []
