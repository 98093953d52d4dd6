"""DuckDB's side of the `reports` scenario (bench/reports.py): the same questions in SQL over
the same CSV file, run in a child process of its own so its peak memory is its own; and the
fingerprints that show both sides gave the same answers."""
import decimal
import json
import time

CENT = decimal.Decimal("0.01")


def money(value):
    return str(decimal.Decimal(str(value)).quantize(CENT))


def portal_fingerprint(endpoint, answer):
    """The part of an answer compared with DuckDB's."""
    if endpoint == "summary":
        return {key: (money(answer[key]) if key == "revenue" else answer[key])
                for key in ("revenue", "orders", "cancellations", "units", "customers")}
    if endpoint == "timeseries":
        points = answer["points"]
        return {"periods": len(points), "first": points[0]["period"] if points else None,
                "revenue": money(sum(decimal.Decimal(p["revenue"]) for p in points)),
                "orders": sum(p["orders"] for p in points), "units": sum(p["units"] for p in points)}
    if endpoint == "breakdown":
        return [[group["key"], money(group["revenue"]), group["orders"], group["units"]] for group in answer["groups"]]
    if endpoint == "options":
        return {"regions": answer["regions"], "countries": answer["countries"],
                "first": answer["first_date"], "last": answer["last_date"]}
    if endpoint == "invoices":
        return {"total": answer["total"], "invoices": [[i["invoice_no"], money(i["revenue"]), i["lines"]]
                                                       for i in answer["invoices"]]}
    if endpoint == "invoice":
        return {"lines": len(answer["lines"]), "revenue": money(answer["revenue"]), "units": answer["units"]}
    return None


# ---------------------------------------------------------------- DuckDB (run in a child process)


def duck_conditions(params):
    conditions, values = [], []
    if params.get("region"):
        conditions.append("region = upper(?)")
        values.append(params["region"])
    if params.get("country"):
        conditions.append("lower(country) = lower(?)")
        values.append(params["country"])
    if params.get("product"):
        conditions.append("(stock_code = upper(?) OR instr(lower(description), lower(?)) > 0)")
        values += [params["product"], params["product"]]
    if params.get("from"):
        conditions.append("invoice_day >= CAST(? AS DATE)")
        values.append(params["from"])
    if params.get("to"):
        conditions.append("invoice_day <= CAST(? AS DATE)")
        values.append(params["to"])
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), values


FIGURES = ("coalesce(sum(revenue) FILTER (WHERE is_product), 0), "
           "count(DISTINCT (region, invoice_no)) FILTER (WHERE NOT is_cancellation), "
           "coalesce(sum(quantity) FILTER (WHERE is_product), 0)")


def duck_answer(connection, endpoint, params):
    """The question of the report API in SQL over the table `orders`, and its fingerprint."""
    where, values = duck_conditions(params)
    if endpoint == "summary":
        row = connection.execute(
            "SELECT coalesce(sum(revenue) FILTER (WHERE is_product), 0), "
            "count(DISTINCT (region, invoice_no)) FILTER (WHERE NOT is_cancellation), "
            "count(DISTINCT (region, invoice_no)) FILTER (WHERE is_cancellation), "
            "coalesce(sum(quantity) FILTER (WHERE is_product), 0), count(DISTINCT customer_id) "
            f"FROM orders{where}", values).fetchone()
        return {"revenue": money(row[0]), "orders": row[1], "cancellations": row[2], "units": int(row[3]),
                "customers": row[4]}
    if endpoint == "timeseries":
        period = {"day": "invoice_day", "week": "CAST(date_trunc('week', invoice_day) AS DATE)",
                  "month": "CAST(date_trunc('month', invoice_day) AS DATE)"}[params.get("grain", "day")]
        rows = connection.execute(f"SELECT {period} AS period, {FIGURES} FROM orders{where} GROUP BY period ORDER BY period",
                                  values).fetchall()
        return {"periods": len(rows), "first": rows[0][0].isoformat() if rows else None,
                "revenue": money(sum((row[1] for row in rows), decimal.Decimal(0))),
                "orders": sum(row[2] for row in rows), "units": int(sum(row[3] for row in rows))}
    if endpoint == "breakdown":
        key, label = {"region": ("region", "NULL"), "country": ("country", "NULL"),
                      "product": ("stock_code", "max(description)")}[params["by"]]
        rows = connection.execute(
            f"SELECT {key} AS group_key, {label}, {FIGURES} FROM orders{where} GROUP BY group_key "
            f"ORDER BY 3 DESC, group_key LIMIT {int(params.get('limit', 10))}", values).fetchall()
        return [[row[0], money(row[2]), row[3], int(row[4])] for row in rows]
    if endpoint == "options":
        regions = [row[0] for row in connection.execute("SELECT DISTINCT region FROM orders ORDER BY 1").fetchall()]
        countries = [row[0] for row in connection.execute(
            "SELECT DISTINCT country FROM orders WHERE country <> '' ORDER BY 1").fetchall()]
        first, last = connection.execute("SELECT min(invoice_day), max(invoice_day) FROM orders").fetchone()
        return {"regions": regions, "countries": countries, "first": first.isoformat(), "last": last.isoformat()}
    if endpoint == "invoices":
        size, page = int(params.get("page_size", 25)), int(params.get("page", 1))
        total = connection.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM orders{where} GROUP BY region, invoice_no)", values).fetchone()[0]
        rows = connection.execute(
            "SELECT region, invoice_no, min(invoice_time) AS first_time, min(country), min(customer_id), count(*), "
            "coalesce(sum(revenue) FILTER (WHERE is_product), 0), bool_or(is_cancellation) "
            f"FROM orders{where} GROUP BY region, invoice_no ORDER BY first_time DESC, region, invoice_no "
            f"LIMIT {size} OFFSET {(page - 1) * size}", values).fetchall()
        return {"total": total, "invoices": [[row[1], money(row[6]), row[5]] for row in rows]}
    if endpoint == "invoice":
        rows = connection.execute(
            "SELECT stock_code, description, quantity, unit_price, revenue, invoice_time, country, customer_id, "
            "is_product, is_cancellation FROM orders WHERE invoice_no = ? AND region = upper(?) ORDER BY invoice_time",
            [params["invoice"], params["region"]]).fetchall()
        return {"lines": len(rows), "revenue": money(sum((row[4] for row in rows if row[8]), decimal.Decimal(0))),
                "units": int(sum(row[2] for row in rows if row[8]))}
    raise ValueError(endpoint)


def duckdb_worker(spec_path):
    """Child process: loads the file, answers the questions, prints JSON."""
    import duckdb

    with open(spec_path) as handle:
        spec = json.load(handle)
    connection = duckdb.connect()
    threads = connection.execute("SELECT current_setting('threads')").fetchone()[0]
    codes = ", ".join("'" + code.upper().replace("'", "''") + "'" for code in spec["non_product_codes"]) or "NULL"
    prefixes = " OR ".join(f"starts_with(stock_code, '{prefix.upper()}')" for prefix in spec["non_product_prefixes"])
    began = time.perf_counter()
    # As the portal cleans rows: exact duplicate rows dropped (DISTINCT over whole rows), codes
    # trimmed and upper-case, descriptions trimmed with inner runs of spaces collapsed (NULL when
    # blank), blank customers NULL, 'C' invoices cancellations, the configured codes not products.
    connection.execute(f"""
        CREATE TABLE orders AS
        WITH distinct_rows AS (
            SELECT DISTINCT * FROM read_csv(?, header = true, delim = ',', quote = '"', escape = '"',
                columns = {{'invoice_no': 'VARCHAR', 'stock_code': 'VARCHAR', 'description': 'VARCHAR',
                           'quantity': 'BIGINT', 'invoice_date': 'VARCHAR', 'unit_price': 'DECIMAL(18,6)',
                           'customer_id': 'VARCHAR', 'country': 'VARCHAR'}})
        ), cleaned AS (
            SELECT ? AS region, trim(invoice_no) AS invoice_no, upper(trim(stock_code)) AS stock_code,
                   nullif(regexp_replace(trim(description), ' +', ' ', 'g'), '') AS description, quantity,
                   strptime(trim(invoice_date), '%m/%d/%Y %H:%M') AS invoice_time, unit_price,
                   nullif(trim(customer_id), '') AS customer_id, country
            FROM distinct_rows
        )
        SELECT region, invoice_no, stock_code, description, quantity, invoice_time,
               CAST(invoice_time AS DATE) AS invoice_day, unit_price, quantity * unit_price AS revenue,
               customer_id, country, upper(left(invoice_no, 1)) = 'C' AS is_cancellation,
               NOT (stock_code IN ({codes}){' OR ' + prefixes if prefixes else ''}) AS is_product
        FROM cleaned
        """, [spec["csv"], spec["region"]])
    load_seconds = time.perf_counter() - began
    rows = connection.execute("SELECT count(*) FROM orders").fetchone()[0]
    answers = {}
    for question in spec["questions"]:
        times, fingerprint, error = [], None, None
        deadline = time.monotonic() + spec["question_seconds"]
        for _ in range(spec["runs"]):
            began = time.perf_counter()
            try:
                fingerprint = duck_answer(connection, question["endpoint"], question["params"])
            except Exception as failure:  # a failing question is reported, not fatal
                error = f"{type(failure).__name__}: {failure}"
                break
            times.append(time.perf_counter() - began)
            if time.monotonic() > deadline:
                break
        answers[question["id"]] = {"times": times, "fingerprint": fingerprint, "error": error}
    print(json.dumps({"version": duckdb.__version__, "threads": threads, "load_seconds": load_seconds,
                      "rows": rows, "answers": answers}))


# ---------------------------------------------------------------- the scenario
