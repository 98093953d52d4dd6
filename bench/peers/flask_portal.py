"""A Flask portal equivalent to the system SalesPortal replaces, used as a peer in benchmarks.

POST /api/uploads (multipart field `file`, optional `region`): the upload is spooled to a
file by Werkzeug, moved into the object folder, then read with Python's csv module, cleaned
with the same rules as SalesPortal (simplified: no Windows-1252 fallback, no rejects file)
and inserted into SQLite with the same table, unique row-key index and invoice-day index.
GET /healthz answers "ok".

Run: gunicorn -w 1 -b 127.0.0.1:PORT 'flask_portal:create_app("DATA_DIR")'
"""
import csv
import datetime
import fcntl
import hashlib
import io
import os
import re
import sqlite3
import time
import uuid

from flask import Flask, jsonify, request

COLUMNS = ["invoiceno", "stockcode", "description", "quantity", "invoicedate", "unitprice", "customerid", "country"]
NON_PRODUCT = {"POST", "DOT", "D", "M", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
               "ADJUST", "ADJUST2", "TEST001", "TEST002"}
REGIONS = {"IN": "IN", "INDIA": "IN", "UK": "UK", "GB": "UK", "USA": "USA", "US": "USA"}
SPACES = re.compile(r" {2,}")
DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")
EPOCH = datetime.datetime(1970, 1, 1)
BATCH = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_rows (
    row_key BLOB NOT NULL, upload_id TEXT NOT NULL, invoice_no TEXT NOT NULL, stock_code TEXT NOT NULL,
    description TEXT, quantity INTEGER NOT NULL, invoice_time INTEGER NOT NULL, invoice_day INTEGER NOT NULL,
    unit_price_micros INTEGER NOT NULL, revenue_micros INTEGER NOT NULL, customer_id TEXT, country TEXT NOT NULL,
    is_cancellation INTEGER NOT NULL, is_product INTEGER NOT NULL, source_line INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS order_rows_by_key ON order_rows(row_key);
CREATE INDEX IF NOT EXISTS order_rows_by_day ON order_rows(invoice_day);
"""


def normalize_header(name):
    return name.strip().lower().replace("_", "").replace(" ", "")


def micros(text):
    """Exact decimal text to integer millionths (no binary floats)."""
    text = text.strip()
    negative = text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    whole, _, fraction = text.partition(".")
    if not whole and not fraction or not (whole or "0").isdigit() or fraction and not fraction.isdigit() or len(fraction) > 6:
        raise ValueError("bad number")
    value = int(whole or "0") * 1_000_000 + int((fraction + "000000")[:6])
    return -value if negative else value


def parse_time(text):
    match = DATE.match(text.strip())
    if not match:
        raise ValueError("bad date")
    month, day, year, hour, minute, second = match.groups()
    year = int(year)
    if year < 100:
        year += 2000
    moment = datetime.datetime(year, int(month), int(day), int(hour), int(minute), int(second or 0))
    seconds = int((moment - EPOCH).total_seconds())
    return seconds, seconds // 86400


def load(path, region, upload_id, database):
    counts = {"read": 0, "loaded": 0, "rejected": 0, "duplicates": 0}
    revenue = 0
    seen = set()
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [normalize_header(name) for name in next(reader)]
        try:
            positions = [header.index(column) for column in COLUMNS]
        except ValueError:
            return {"status": "rejected", "error": "missing_column"}
        width = len(header)
        batch = []
        line = 1
        for fields in reader:
            line += 1
            counts["read"] += 1
            try:
                if len(fields) != width:
                    raise ValueError("field count")
                invoice, stock, description, quantity, date, price, customer, country = (fields[p] for p in positions)
                invoice = invoice.strip()
                stock = stock.strip().upper()
                if not invoice or not stock:
                    raise ValueError("missing")
                description = SPACES.sub(" ", description.strip()) or None
                quantity = int(quantity.strip())
                seconds, day = parse_time(date)
                price = micros(price)
                customer = customer.strip()
                if customer.endswith(".0"):
                    customer = customer[:-2]
                customer = customer or None
                country = country.strip()
            except ValueError:
                counts["rejected"] += 1
                continue
            key_source = "\x1f".join((region, invoice, stock, description or "", str(quantity), str(seconds),
                                      str(price), customer or "", country)).encode()
            row_key = seconds.to_bytes(8, "big", signed=True) + hashlib.blake2b(key_source, digest_size=8).digest()
            if row_key in seen:
                counts["duplicates"] += 1
                continue
            seen.add(row_key)
            is_product = stock not in NON_PRODUCT and not stock.startswith("GIFT_")
            line_revenue = quantity * price
            if is_product:
                revenue += line_revenue
            batch.append((row_key, upload_id, invoice, stock, description, quantity, seconds, day, price,
                          line_revenue, customer, country, int(invoice.startswith("C")), int(is_product), line))
            if len(batch) >= BATCH:
                counts["loaded"] += insert(database, batch)
                batch = []
        if batch:
            counts["loaded"] += insert(database, batch)
    counts["duplicates"] = counts["read"] - counts["rejected"] - counts["loaded"]
    return {"status": "loaded", "rows": counts, "revenue": f"{revenue // 10**6}.{revenue % 10**6:06d}"}


def insert(database, batch):
    before = database.total_changes
    with database:
        database.executemany("INSERT OR IGNORE INTO order_rows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    return database.total_changes - before


def create_app(data_dir):
    app = Flask(__name__)
    objects = os.path.join(data_dir, "objects")
    os.makedirs(objects, exist_ok=True)
    database = sqlite3.connect(os.path.join(data_dir, "warehouse.sqlite"), timeout=60, check_same_thread=False)
    # Every gunicorn worker runs this at boot: one at a time, or switching to WAL fails as "locked".
    with open(os.path.join(data_dir, "schema.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        database.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)

    @app.get("/healthz")
    def healthz():
        return "ok\n"

    @app.post("/api/uploads")
    def upload():
        results = []
        for stored_file in request.files.getlist("file"):
            started = time.monotonic()
            name = os.path.basename(stored_file.filename or "upload.csv")
            region = REGIONS.get((request.form.get("region") or os.path.splitext(name)[0]).strip().upper())
            if region is None:
                results.append({"file": name, "status": "rejected", "error": "unknown_region"})
                continue
            upload_id = uuid.uuid4().hex
            path = os.path.join(objects, upload_id + "-" + name)
            stored_file.save(path)
            stored = time.monotonic()
            result = load(path, region, upload_id, database)
            result.update(file=name, region=region, id=upload_id,
                          timings={"store_ms": (stored - started) * 1000, "load_ms": (time.monotonic() - stored) * 1000})
            results.append(result)
        return jsonify({"uploads": results})

    return app
