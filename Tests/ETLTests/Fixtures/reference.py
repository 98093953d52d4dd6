#!/usr/bin/env python3
"""Independent reference numbers for the seed files, with Python's csv and decimal modules.

It applies the load rules of README.md ("The data contract, in brief") on its own:
field count, required InvoiceNo and StockCode, integer Quantity, exact UnitPrice of at most
six places, M/D/YYYY H:MM dates (the only form in the seed files), normalized fields, exact duplicates by region + normalized
fields, revenue = sum of quantity x unit price over product lines (cancellations included).

Regenerate the numbers asserted in SeedFileTests.swift with:
    python3 Tests/ETLTests/Fixtures/reference.py Tests/ETLTests/Fixtures/IN.csv:IN \
        Tests/ETLTests/Fixtures/usa.csv:USA
"""
import csv
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation

NON_PRODUCT = {"POST", "DOT", "D", "M", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK",
               "PADS", "ADJUST", "ADJUST2", "TEST001", "TEST002"}
NON_PRODUCT_PREFIXES = ("GIFT_",)
COLUMNS = ["invoiceno", "stockcode", "description", "quantity", "invoicedate", "unitprice",
           "customerid", "country"]


def key(name):
    return "".join(ch for ch in name.strip().lower() if ch not in "_- \t")


def clean(text):
    return text.strip(" \t\r\n")


def whole_number(text):
    """An integer; spreadsheets' 12.0 is 12."""
    if "." in text and set(text.split(".", 1)[1]) <= {"0"}:
        text = text.split(".", 1)[0]
    return int(text)


def collapse(text):
    out, previous = [], False
    for ch in text:
        space = ch in " \t"
        if space:
            if not previous:
                out.append(" ")
        else:
            out.append(ch)
        previous = space
    return "".join(out)


def main(specs):
    for spec in specs:
        path, region = spec.rsplit(":", 1)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        header = [key(name) for name in rows[0]]
        index = {name: header.index(name) for name in COLUMNS}
        read = loaded = rejected = duplicates = 0
        revenue = Decimal(0)
        seen = set()
        for fields in rows[1:]:
            if all(field == "" for field in fields):
                continue  # blank line
            read += 1
            if len(fields) != len(header):
                rejected += 1
                continue
            get = lambda name: fields[index[name]]
            invoice = clean(get("invoiceno"))
            stock = clean(get("stockcode")).upper()
            try:
                quantity = whole_number(clean(get("quantity")))
                price = Decimal(clean(get("unitprice")))
                when = datetime.strptime(clean(get("invoicedate")), "%m/%d/%Y %H:%M")
            except (ValueError, InvalidOperation):
                rejected += 1
                continue
            if not invoice or not stock or price.as_tuple().exponent < -6:
                rejected += 1
                continue
            description = collapse(clean(get("description"))) or None
            customer = clean(get("customerid")) or None
            if customer and "." in customer and set(customer.split(".", 1)[1]) <= {"0"}:
                customer = customer.split(".", 1)[0]
            country = clean(get("country"))
            normalized = (region, invoice, stock, description, quantity, when, price, customer, country)
            if normalized in seen:
                duplicates += 1
                continue
            seen.add(normalized)
            loaded += 1
            if stock not in NON_PRODUCT and not stock.startswith(NON_PRODUCT_PREFIXES):
                revenue += quantity * price
        print(f"{path} region={region} read={read} loaded={loaded} rejected={rejected} "
              f"duplicates={duplicates} revenue={revenue.quantize(Decimal('0.000001'))}")


if __name__ == "__main__":
    main(sys.argv[1:])
