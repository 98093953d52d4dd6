"""Helpers of the retraction and audit-trail integration tests: generated sales files,
`DELETE /api/uploads/{id}` and the record of one upload, and a comparison of every report
endpoint with the reference's numbers over a set of files.

Every wait here is bounded; nothing in this file can hang a test run."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import reference
import support

GENERATOR = (support.REPO_ROOT / ".." / "shared" / "tools" / "gen_online_retail.py").resolve()
INVOICE_PAGE_SIZE = 40


# --- files ---------------------------------------------------------------------------------

def generate(path: Path, rows: int, seed: int, region: str = "UK") -> Path:
    """A file of `rows` generated sales lines (Online Retail's shape) at `path`."""
    assert GENERATOR.exists(), f"the file generator is missing: {GENERATOR}"
    with open(path, "wb") as out:
        done = subprocess.run([sys.executable, str(GENERATOR), "--rows", str(rows), "--seed", str(seed),
                               "--region", region], stdout=out, stderr=subprocess.PIPE, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return path


def csv_records(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, records) of a CSV file (a leading byte-order mark dropped)."""
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], [r for r in rows[1:] if r and r != [""]]


def write_csv(path: Path, header: list[str], records: list[list[str]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(records)
    path.write_text(buffer.getvalue(), newline="")
    return path


def partly_duplicate(source: Path, path: Path, shared: slice, fresh_rows: int, first_invoice: int) -> Path:
    """A file whose rows are `source`'s rows in `shared` (written anew, so the bytes differ)
    followed by `fresh_rows` rows of invoices from `first_invoice` that `source` does not have."""
    header, records = csv_records(source)
    _, fresh = csv_records(_text_file(path.with_suffix(".fresh"), support.sales_csv(fresh_rows, first_invoice=first_invoice)))
    return write_csv(path, header, records[shared] + fresh)


def without_column(source: Path, path: Path, column: str) -> Path:
    """`source` without one of its columns (a file rejected as a whole)."""
    header, records = csv_records(source)
    index = header.index(column)
    return write_csv(path, [h for i, h in enumerate(header) if i != index],
                     [[f for i, f in enumerate(r) if i != index] for r in records])


def _text_file(path: Path, text: str) -> Path:
    path.write_text(text, newline="")
    return path


# --- requests ------------------------------------------------------------------------------

def retract(server: support.Server, upload_id: str, *args: str, timeout: float = 300) -> support.Response:
    """DELETE /api/uploads/{id} with extra curl arguments (credentials, headers)."""
    return support.curl(server.url(f"/api/uploads/{urllib.parse.quote(upload_id)}"), "-X", "DELETE", *args,
                        timeout=timeout)


def record(server: support.Server, upload_id: str, *args: str) -> dict:
    """GET /api/uploads/{id}: the record of one upload."""
    response = support.get(server, f"/api/uploads/{urllib.parse.quote(upload_id)}", *args)
    assert response.status == 200, (upload_id, response.status, response.body[:500])
    body = response.json()
    assert isinstance(body, dict) and body.get("id") == upload_id, body
    return body


def record_or_none(server: support.Server, upload_id: str, *args: str) -> dict | None:
    """The record, or None when the server does not answer 200 (e.g. it is restarting)."""
    try:
        response = support.get(server, f"/api/uploads/{urllib.parse.quote(upload_id)}", *args)
    except Exception:  # noqa: BLE001 - a server that is going away answers nothing
        return None
    if response.status != 200:
        return None
    body = response.json()
    assert isinstance(body, dict) and body.get("id") == upload_id, body
    return body


def upload_one(server: support.Server, path: Path, *args: str, region: str | None = None,
               timeout: float = 300, status: int = 200) -> dict:
    """Uploads one file; its result (the HTTP status asserted: 200, or 422 for a rejected file)."""
    response = support.upload(server, path, region=region, extra=args, timeout=timeout)
    assert response.status == status, (path.name, response.status, response.body[:1000])
    [result] = support.uploads_of(response)
    return result


# Polls until a condition holds (one helper for every test module).
wait_for = support.wait_for


# --- reports --------------------------------------------------------------------------------

def _report(server: support.Server, path: str, params: dict, auth: tuple[str, ...]) -> tuple[int, object]:
    query = urllib.parse.urlencode(params)
    response = support.get(server, f"/api/report/{path}" + ("?" + query if query else ""), *auth)
    try:
        body = response.json()
    except ValueError:
        body = response.body[:300]
    return response.status, body


def report_mismatches(server: support.Server, results: list[reference.FileResult],
                      auth: tuple[str, ...] = (), gone: list[reference.FileResult] = ()) -> list[str]:
    """Where the report endpoints differ from the reference over `results`: summary, time
    series by day, week and month, breakdowns by region, country and product, the filter
    options, the first page of invoices and the lines of a few invoices. Invoices that only
    the files in `gone` had must be unknown (404)."""
    problems: list[str] = []

    def check(label: str, got, want) -> None:
        if got != want:
            problems.append(f"{label}: server {str(got)[:600]} != reference {str(want)[:600]}")

    status, body = _report(server, "summary", {}, auth)
    want = reference.summary(results)
    check("summary", (status, {k: body.get(k) for k in want} if isinstance(body, dict) else body), (200, want))
    for grain in ("day", "week", "month"):
        status, body = _report(server, "timeseries", {"grain": grain}, auth)
        got = body.get("points") if isinstance(body, dict) else body
        check(f"timeseries {grain}", (status, got), (200, reference.time_series(results, grain)))
    for by, limit in (("region", 10), ("country", 10), ("product", 10), ("product", 500)):
        status, body = _report(server, "breakdown", {"by": by, "limit": limit}, auth)
        got = body.get("groups") if isinstance(body, dict) else body
        check(f"breakdown by {by} limit {limit}", (status, got), (200, reference.breakdown(results, by, limit)))
    status, body = _report(server, "options", {}, auth)
    want = reference.options(results)
    check("options", (status, {k: body.get(k) for k in want} if isinstance(body, dict) else body), (200, want))

    invoices = reference.invoices(results)
    status, body = _report(server, "invoices", {"page": 1, "page_size": INVOICE_PAGE_SIZE}, auth)
    if status != 200 or not isinstance(body, dict):
        problems.append(f"invoices page 1: {status} {body}")
    else:
        check("invoices total", body.get("total"), len(invoices))
        check("invoices page 1", body.get("invoices"), invoices[:INVOICE_PAGE_SIZE])
    if invoices:
        for invoice in [invoices[0], invoices[len(invoices) // 2], invoices[-1]]:
            problems += _invoice_lines_mismatch(server, results, invoice, auth)
    live = {(i["region"], i["invoice_no"]) for i in invoices}
    only_gone = sorted({(r.region, r.invoice_no) for g in gone for r in g.rows} - live)
    for region, number in only_gone[:3]:
        response = support.get(server, f"/api/report/invoices/{region}/{urllib.parse.quote(number)}", *auth)
        if response.status != 404:
            problems.append(f"invoice {region}/{number} of a retracted upload only: {response.status} "
                            f"{response.body[:300]!r}, expected 404")
    return problems


def _invoice_lines_mismatch(server: support.Server, results: list[reference.FileResult], invoice: dict,
                            auth: tuple[str, ...]) -> list[str]:
    path = f"/api/report/invoices/{invoice['region']}/{urllib.parse.quote(invoice['invoice_no'])}"
    response = support.get(server, path, *auth)
    label = f"invoice {invoice['region']}/{invoice['invoice_no']}"
    if response.status != 200:
        return [f"{label}: {response.status} {response.body[:300]!r}"]
    body = response.json()
    problems = []
    rows = [r for r in reference.matching_rows(results, region=invoice["region"]) if r.invoice_no == invoice["invoice_no"]]
    got = (len(body.get("lines", [])), body.get("revenue"), body.get("time"),
           sorted(line.get("source_line") for line in body.get("lines", [])))
    want = (invoice["lines"], invoice["revenue"], invoice["time"], sorted(r.line for r in rows))
    if got != want:
        problems.append(f"{label} (lines, revenue, time, source lines): server {got} != reference {want}")
    return problems


def summary_of(server: support.Server, auth: tuple[str, ...] = ()) -> dict:
    response = support.get(server, "/api/report/summary", *auth)
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    return {k: body[k] for k in ("revenue", "orders", "cancellations", "units", "customers")}
