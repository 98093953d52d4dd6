"""scripts/bq_standin.py in front of the BigQuery emulator: streamed rows outside BigQuery's
partition window are refused as BigQuery refuses them, tables show the layout they were
created with, and everything else passes through unchanged.

Each test module run starts its own stand-in on a free port in front of the emulator named
by BIGQUERY_EMULATOR_HOST (skipped without it; under CI=true that fails), on a dataset of
its own that is deleted afterwards."""
from __future__ import annotations

import datetime as dt
import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

import support

PROJECT = "test-project"
SCRIPT = support.REPO_ROOT / "scripts" / "bq_standin.py"
# The emulator itself: behind the stand-in that scripts/emulators.sh puts on BIGQUERY_EMULATOR_HOST,
# its own address is BIGQUERY_EMULATOR_UPSTREAM; these tests put stand-ins of their own in front of it.
EMULATOR = os.environ.get("BIGQUERY_EMULATOR_UPSTREAM") or os.environ.get("BIGQUERY_EMULATOR_HOST", "")
WINDOW_TEXT = "is outside the allowed bounds. You can only stream to date range within 1825 days in the past " \
              "and 366 days in the future relative to the current date."


# --------------------------------------------------------------------------------------
# Plain HTTP


class Endpoint:
    """http://host:port of the emulator or of a stand-in, spoken to with http.client."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.url = f"http://{self.host}:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, method: str, path: str, body=None, headers: dict | None = None,
             conn: http.client.HTTPConnection | None = None, encode_chunked: bool = False):
        """(status, headers, parsed JSON or None, raw bytes)."""
        own = conn is None
        conn = conn or self.connection()
        try:
            headers = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=headers, encode_chunked=encode_chunked)
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return response.status, response, parsed, raw
        finally:
            if own:
                conn.close()


def api(dataset: str, rest: str = "") -> str:
    return f"/bigquery/v2/projects/{PROJECT}/datasets/{dataset}{rest}"


def table_body(dataset: str, table: str, fields: list[tuple[str, str]], **layout) -> dict:
    body = {"tableReference": {"projectId": PROJECT, "datasetId": dataset, "tableId": table},
            "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in fields]}}
    body.update(layout)
    return body


def create_table(endpoint: Endpoint, dataset: str, table: str, fields, **layout) -> dict:
    status, _, answer, raw = endpoint.call("POST", api(dataset, "/tables"), table_body(dataset, table, fields, **layout))
    assert status == 200, (status, raw[:500])
    return answer


def insert(endpoint: Endpoint, dataset: str, table: str, rows: list[dict], skip: bool | None = None,
           compress: bool = False, chunked: bool = False, ids: list[str] | None = None):
    payload = {"kind": "bigquery#tableDataInsertAllRequest",
               "rows": [{"insertId": (ids[i] if ids else uuid.uuid4().hex), "json": row} for i, row in enumerate(rows)]}
    if skip is not None:
        payload["skipInvalidRows"] = skip
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    if chunked:
        parts = [body[i:i + 7] for i in range(0, len(body), 7)]
        status, _, answer, raw = endpoint.call("POST", api(dataset, f"/tables/{table}/insertAll"), iter(parts),
                                               headers, encode_chunked=True)
    else:
        status, _, answer, raw = endpoint.call("POST", api(dataset, f"/tables/{table}/insertAll"), body, headers)
    assert status == 200, (status, raw[:500])
    return answer.get("insertErrors") or []


def stored(emulator: Endpoint, dataset: str, table: str, column: int = 0) -> list:
    """One column of every row the emulator holds, read from the emulator itself. The
    emulator's tabledata.list now and then answers 500 while other clients use it at the same
    time (a DuckDB "closed pending query result"): a read, so it is asked again, a few times."""
    for attempt in range(5):
        status, _, answer, raw = emulator.call("GET", api(dataset, f"/tables/{table}/data?maxResults=1000"))
        if status != 500:
            break
        time.sleep(0.2 * (attempt + 1))
    assert status == 200, (status, raw[:500])
    return sorted(row["f"][column]["v"] for row in answer.get("rows") or [])


def reasons(errors: list[dict]) -> dict[int, list[str]]:
    return {e["index"]: [x["reason"] for x in e["errors"]] for e in errors}


# --------------------------------------------------------------------------------------
# Fixtures


class StandIn:
    def __init__(self, upstream: str, *extra: str):
        self.log_path = Path(tempfile.mkstemp(prefix="bq-standin-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--listen", "127.0.0.1:0", "--upstream", upstream, *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + 15
        port = None
        while port is None:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if found:
                port = int(found.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the stand-in did not start: {self.log()}")
            else:
                time.sleep(0.05)
        self.endpoint = Endpoint(f"http://127.0.0.1:{port}")
        status, _, stats, _ = self.endpoint.call("GET", "/standin/stats")
        assert status == 200, status
        self.today = dt.date.fromisoformat(stats["today"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stats(self) -> dict:
        status, _, answer, _ = self.endpoint.call("GET", "/standin/stats")
        assert status == 200
        return answer

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                return -9
        self._log.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def emulator() -> Endpoint:
    if not EMULATOR:
        message = "the stand-in tests need the BigQuery emulator: run scripts/emulators.sh start and set " \
                  "BIGQUERY_EMULATOR_HOST (scripts/test.sh does both)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Endpoint(EMULATOR)


@pytest.fixture(scope="module")
def standin(emulator):
    running = StandIn(emulator.url)
    yield running
    code = running.stop()
    assert code == 0, f"the stand-in exited {code} on SIGTERM: {running.log()}"


@pytest.fixture(scope="module")
def dataset(emulator):
    name = f"it_standin_{uuid.uuid4().hex[:10]}"
    status, _, _, raw = emulator.call("POST", f"/bigquery/v2/projects/{PROJECT}/datasets",
                                      {"datasetReference": {"projectId": PROJECT, "datasetId": name}})
    assert status == 200, (status, raw[:500])
    yield name
    emulator.call("DELETE", api(name, "?deleteContents=true"))


@pytest.fixture
def bq_client(standin):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=standin.endpoint.url))


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def years(day: dt.date, count: int) -> dt.date:
    try:
        return day.replace(year=day.year + count)
    except ValueError:
        return day.replace(year=day.year + count, day=28)


# --------------------------------------------------------------------------------------
# The streaming window


def test_day_partitioned_table_refuses_rows_outside_the_window(standin, emulator, dataset):
    table = fresh("day")
    create_table(standin.endpoint, dataset, table, [("d", "DATE"), ("n", "INT64")],
                 timePartitioning={"type": "DAY", "field": "d"})
    today = standin.today
    rows = [{"d": "2010-06-01", "n": 0}, {"d": today.isoformat(), "n": 1},
            {"d": years(today, 2).isoformat(), "n": 2}, {"d": years(today, -4).isoformat(), "n": 3},
            {"d": None, "n": 4}, {"n": 5}]
    errors = insert(standin.endpoint, dataset, table, rows, skip=True)
    assert reasons(errors) == {0: ["invalid"], 2: ["invalid"]}, errors
    first = errors[0]["errors"][0]
    assert first["location"] == "d"
    assert first["message"] == (f"Value {int(dt.datetime(2010, 6, 1, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000} "
                                f"for field d of the destination table {PROJECT}:{dataset}.{table} {WINDOW_TEXT}")
    # today's row, the row 4 years back and the rows without a date went in; the others did not
    assert stored(emulator, dataset, table, column=1) == ["1", "3", "4", "5"]
    assert f"insertAll into {PROJECT}:{dataset}.{table}: refused 2 of 6 rows" in standin.log()


def test_without_skip_invalid_rows_nothing_is_inserted(standin, emulator, dataset):
    table = fresh("day_strict")
    create_table(standin.endpoint, dataset, table, [("d", "DATE"), ("n", "INT64")],
                 timePartitioning={"type": "DAY", "field": "d"})
    today = standin.today.isoformat()
    rows = [{"d": today, "n": 0}, {"d": "2010-01-01", "n": 1}, {"d": today, "n": 2}]
    for skip in (False, None):   # false, and left out (BigQuery's default is false)
        errors = insert(standin.endpoint, dataset, table, rows, skip=skip)
        assert reasons(errors) == {0: ["stopped"], 1: ["invalid"], 2: ["stopped"]}, errors
        assert errors[0]["errors"][0]["message"] == ""
    assert stored(emulator, dataset, table) == []
    assert "(nothing inserted)" in standin.log()


def test_google_client_sees_the_same_refusals(standin, emulator, dataset, bq_client):
    from google.cloud import bigquery
    name = fresh("month_ts")
    table = bigquery.Table(f"{PROJECT}.{dataset}.{name}", schema=[bigquery.SchemaField("t", "TIMESTAMP"),
                                                                  bigquery.SchemaField("n", "INT64")])
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.MONTH, field="t")
    table.clustering_fields = ["n"]
    bq_client.create_table(table)

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    errors = bq_client.insert_rows_json(f"{PROJECT}.{dataset}.{name}", [
        {"t": "2010-01-01 00:00:00 UTC", "n": 0}, {"t": now, "n": 1}], skip_invalid_rows=True)
    assert reasons(errors) == {0: ["invalid"]}, errors
    assert errors[0]["errors"][0]["message"].startswith(
        f"Value 1262304000000000 for field t of the destination table {PROJECT}:{dataset}.{name} ")

    # The client leaves skipInvalidRows out by default: one bad row stops the request.
    ahead = f"{years(standin.today, 2).isoformat()}T00:00:00Z"
    errors = bq_client.insert_rows_json(f"{PROJECT}.{dataset}.{name}", [{"t": ahead, "n": 2}, {"t": now, "n": 3}])
    assert reasons(errors) == {0: ["invalid"], 1: ["stopped"]}, errors
    # epoch seconds as a number are a TIMESTAMP too
    errors = bq_client.insert_rows_json(f"{PROJECT}.{dataset}.{name}", [{"t": 1262304000, "n": 4}, {"t": now, "n": 5}],
                                        skip_invalid_rows=True)
    assert reasons(errors) == {0: ["invalid"]}, errors
    assert stored(emulator, dataset, name, column=1) == ["1", "5"]

    fetched = bq_client.get_table(f"{PROJECT}.{dataset}.{name}")
    assert fetched.time_partitioning.type_ == "MONTH" and fetched.time_partitioning.field == "t"
    assert fetched.clustering_fields == ["n"]


def test_range_and_ingestion_time_tables_take_old_rows(standin, emulator, dataset, bq_client):
    ranged, ingested = fresh("range"), fresh("ingestion")
    create_table(standin.endpoint, dataset, ranged, [("d", "DATE"), ("month", "INT64")],
                 rangePartitioning={"field": "month", "range": {"start": "0", "end": "1200", "interval": "1"}})
    create_table(standin.endpoint, dataset, ingested, [("d", "DATE"), ("month", "INT64")],
                 timePartitioning={"type": "DAY"})
    rows = [{"d": "2010-01-01", "month": 480}, {"d": "1999-12-31", "month": 359}, {"d": "2099-01-01", "month": 1}]
    for table in (ranged, ingested):
        assert insert(standin.endpoint, dataset, table, rows, skip=False) == []
        assert stored(emulator, dataset, table) == ["1999-12-31", "2010-01-01", "2099-01-01"]
    assert bq_client.insert_rows_json(f"{PROJECT}.{dataset}.{ranged}", [{"d": "2011-05-05", "month": 496}]) == []
    assert "2011-05-05" in stored(emulator, dataset, ranged)


def test_table_made_without_the_standin_is_looked_up(standin, emulator, dataset):
    """A table created on the emulator directly (as before the stand-in started): the
    partitioning the emulator keeps is what the stand-in goes by."""
    table = fresh("behind")
    create_table(emulator, dataset, table, [("d", "DATETIME"), ("n", "INT64")],
                 timePartitioning={"type": "HOUR", "field": "d"})
    errors = insert(standin.endpoint, dataset, table, [{"d": "2010-01-01T10:00:00", "n": 0},
                                                       {"d": f"{standin.today} 08:30:00", "n": 1}], skip=True)
    assert reasons(errors) == {0: ["invalid"]}, errors
    assert stored(emulator, dataset, table, column=1) == ["1"]


def test_window_edges_with_a_fixed_date(emulator, dataset):
    """5 years back and 1 year ahead of 29 February 2024, UTC; offsets move a TIMESTAMP's day."""
    other = StandIn(emulator.url, "--today", "2024-02-29")
    try:
        assert other.today == dt.date(2024, 2, 29)
        dates, stamps = fresh("edges_date"), fresh("edges_ts")
        create_table(other.endpoint, dataset, dates, [("d", "DATE")], timePartitioning={"type": "DAY", "field": "d"})
        create_table(other.endpoint, dataset, stamps, [("t", "TIMESTAMP")],
                     timePartitioning={"type": "DAY", "field": "t"})
        rows = [{"d": d} for d in ("2019-02-27", "2019-02-28", "2025-02-28", "2025-03-01")]
        assert reasons(insert(other.endpoint, dataset, dates, rows, skip=True)) == {0: ["invalid"], 3: ["invalid"]}
        assert stored(emulator, dataset, dates) == ["2019-02-28", "2025-02-28"]
        rows = [{"t": "2019-02-28T01:00:00+02:00"},    # 2019-02-27 23:00 UTC: out
                {"t": "2019-02-27T23:30:00-01:00"},    # 2019-02-28 00:30 UTC: in
                {"t": "2025-02-28 23:59:59.999999 UTC"}, {"t": "2025-03-01T00:00:00Z"}]
        assert reasons(insert(other.endpoint, dataset, stamps, rows, skip=True)) == {0: ["invalid"], 3: ["invalid"]}
        assert len(stored(emulator, dataset, stamps)) == 2
    finally:
        code = other.stop()
    assert code == 0, f"the stand-in exited {code} on SIGTERM: {other.log()}"


def test_emulator_errors_are_mapped_back_to_the_request(standin, emulator, dataset):
    table = fresh("mapped")
    create_table(standin.endpoint, dataset, table, [("d", "DATE"), ("n", "INT64")],
                 timePartitioning={"type": "DAY", "field": "d"})
    today = standin.today.isoformat()
    rows = [{"d": "2012-01-01", "n": 0}, {"d": today, "n": 1}, {"d": "2013-01-01", "n": 2},
            {"d": "not a date", "n": 3}, {"d": today, "n": 4}]
    errors = insert(standin.endpoint, dataset, table, rows, skip=True)
    assert reasons(errors) == {0: ["invalid"], 2: ["invalid"], 3: ["invalid"]}, errors
    by_index = {e["index"]: e["errors"][0]["message"] for e in errors}
    assert "outside the allowed bounds" in by_index[0] and "outside the allowed bounds" in by_index[2]
    assert "outside the allowed bounds" not in by_index[3]   # the emulator's own complaint, moved to index 3
    assert stored(emulator, dataset, table, column=1) == ["1", "4"]


# --------------------------------------------------------------------------------------
# Request bodies


def test_gzip_and_chunked_bodies(standin, emulator, dataset):
    day, plain = fresh("gzip_day"), fresh("gzip_plain")
    create_table(standin.endpoint, dataset, day, [("d", "DATE"), ("n", "INT64")],
                 timePartitioning={"type": "DAY", "field": "d"})
    create_table(standin.endpoint, dataset, plain, [("d", "DATE"), ("n", "INT64")])
    today = standin.today.isoformat()
    rows = [{"d": "2010-01-01", "n": 0}, {"d": today, "n": 1}]
    assert reasons(insert(standin.endpoint, dataset, day, rows, skip=True, compress=True)) == {0: ["invalid"]}
    assert reasons(insert(standin.endpoint, dataset, day, [{"d": "2011-01-01", "n": 2}, {"d": today, "n": 3}],
                          skip=True, chunked=True)) == {0: ["invalid"]}
    assert reasons(insert(standin.endpoint, dataset, day, [{"d": "2011-01-01", "n": 4}, {"d": today, "n": 5}],
                          skip=True, compress=True, chunked=True)) == {0: ["invalid"]}
    assert stored(emulator, dataset, day, column=1) == ["1", "3", "5"]
    # a table without a window: the compressed body goes through as it is
    assert insert(standin.endpoint, dataset, plain, rows, skip=False, compress=True) == []
    assert stored(emulator, dataset, plain, column=1) == ["0", "1"]


# --------------------------------------------------------------------------------------
# Table layout


def test_tables_get_and_list_show_the_layout_they_were_created_with(standin, dataset, bq_client):
    ranged, timed = fresh("layout_range"), fresh("layout_day")
    range_spec = {"field": "month", "range": {"start": "0", "end": "1200", "interval": "1"}}
    created = create_table(standin.endpoint, dataset, ranged, [("month", "INT64"), ("region", "STRING")],
                           rangePartitioning=range_spec, clustering={"fields": ["region"]})
    assert created["rangePartitioning"] == range_spec
    create_table(standin.endpoint, dataset, timed, [("d", "DATE")], timePartitioning={"type": "DAY", "field": "d"})

    status, _, table, _ = standin.endpoint.call("GET", api(dataset, f"/tables/{ranged}"))
    assert status == 200
    assert table["rangePartitioning"] == range_spec
    assert table["clustering"] == {"fields": ["region"]}
    assert "timePartitioning" not in table

    status, _, listing, _ = standin.endpoint.call("GET", api(dataset, "/tables?maxResults=1000"))
    assert status == 200
    items = {item["tableReference"]["tableId"]: item for item in listing["tables"]}
    assert items[ranged]["rangePartitioning"] == range_spec
    assert items[ranged]["clustering"] == {"fields": ["region"]}
    assert items[timed]["timePartitioning"] == {"type": "DAY", "field": "d"}

    fetched = bq_client.get_table(f"{PROJECT}.{dataset}.{ranged}")
    assert fetched.range_partitioning is not None
    assert (fetched.range_partitioning.field, fetched.range_partitioning.range_.start,
            fetched.range_partitioning.range_.end, fetched.range_partitioning.range_.interval) == ("month", 0, 1200, 1)
    assert fetched.clustering_fields == ["region"]


def test_deleting_a_table_forgets_its_layout(standin, emulator, dataset, bq_client):
    name = fresh("recreated")
    create_table(standin.endpoint, dataset, name, [("d", "DATE")], timePartitioning={"type": "DAY", "field": "d"},
                 clustering={"fields": ["d"]})
    assert reasons(insert(standin.endpoint, dataset, name, [{"d": "2010-01-01"}], skip=True)) == {0: ["invalid"]}
    bq_client.delete_table(f"{PROJECT}.{dataset}.{name}")
    create_table(standin.endpoint, dataset, name, [("d", "DATE")],
                 rangePartitioning={"field": "n", "range": {"start": "0", "end": "10", "interval": "1"}})
    status, _, table, _ = standin.endpoint.call("GET", api(dataset, f"/tables/{name}"))
    assert status == 200 and "timePartitioning" not in table and "clustering" not in table
    assert insert(standin.endpoint, dataset, name, [{"d": "2010-01-01"}], skip=True) == []
    standin.endpoint.call("DELETE", api(dataset, f"/tables/{name}"))
    create_table(standin.endpoint, dataset, name, [("d", "DATE")])
    status, _, table, _ = standin.endpoint.call("GET", api(dataset, f"/tables/{name}"))
    assert status == 200 and "rangePartitioning" not in table
    assert stored(emulator, dataset, name) == []


def test_ddl_through_the_standin(standin, emulator, dataset):
    """CREATE TABLE ... PARTITION BY RANGE_BUCKET is remembered (the emulator drops it); a
    column-partitioned one is refused by the emulator's own layout; DROP TABLE forgets."""
    ranged, dated = fresh("ddl_range"), fresh("ddl_day")

    def run(sql: str):
        status, _, answer, raw = standin.endpoint.call(
            "POST", f"/bigquery/v2/projects/{PROJECT}/queries", {"query": sql, "useLegacySql": False})
        assert status == 200 and not answer.get("errors"), raw[:500]

    run(f"CREATE TABLE `{PROJECT}.{dataset}.{ranged}` (month INT64, region STRING) "
        f"PARTITION BY RANGE_BUCKET(month, GENERATE_ARRAY(0, 1200, 1)) CLUSTER BY region")
    status, _, table, _ = standin.endpoint.call("GET", api(dataset, f"/tables/{ranged}"))
    assert table["rangePartitioning"] == {"field": "month", "range": {"start": "0", "end": "1200", "interval": "1"}}
    assert table["clustering"] == {"fields": ["region"]}
    run(f"DROP TABLE `{PROJECT}.{dataset}.{ranged}`")
    run(f"CREATE TABLE `{PROJECT}.{dataset}.{ranged}` (month INT64, region STRING)")
    status, _, table, _ = standin.endpoint.call("GET", api(dataset, f"/tables/{ranged}"))
    assert "rangePartitioning" not in table and "clustering" not in table

    run(f"CREATE TABLE `{PROJECT}.{dataset}.{dated}` (d DATE, n INT64) PARTITION BY d")
    errors = insert(standin.endpoint, dataset, dated, [{"d": "2010-01-01", "n": 0},
                                                       {"d": standin.today.isoformat(), "n": 1}], skip=True)
    assert reasons(errors) == {0: ["invalid"]}, errors


# --------------------------------------------------------------------------------------
# Everything else


def test_everything_else_passes_through_unchanged(standin, emulator, dataset, bq_client):
    from google.cloud import bigquery
    status, _, through, _ = standin.endpoint.call("GET", f"/bigquery/v2/projects/{PROJECT}/datasets/{dataset}")
    direct_status, _, direct, _ = emulator.call("GET", f"/bigquery/v2/projects/{PROJECT}/datasets/{dataset}")
    assert (status, through) == (direct_status, direct) and status == 200

    missing = api(dataset, "/tables/no_such_table")
    status, _, _, raw = standin.endpoint.call("GET", missing)
    direct_status, _, _, direct_raw = emulator.call("GET", missing)
    assert (status, raw) == (direct_status, direct_raw) and status == 404

    status, _, _, raw = standin.endpoint.call("POST", api(dataset, "/tables/no_such_table/insertAll"),
                                              {"rows": [{"json": {"d": "2010-01-01"}}]})
    assert status == 404, raw[:300]

    # a plain table, made and read without the stand-in's layout memory
    table = fresh("plain")
    create_table(emulator, dataset, table, [("region", "STRING"), ("amount", "INT64")])
    status, _, _, through_raw = standin.endpoint.call("GET", api(dataset, f"/tables/{table}"))
    _, _, _, direct_raw = emulator.call("GET", api(dataset, f"/tables/{table}"))
    assert status == 200 and through_raw == direct_raw

    assert insert(standin.endpoint, dataset, table, [{"region": "IN", "amount": 5}, {"region": "US", "amount": 7},
                                                     {"region": "IN", "amount": 11}]) == []
    query = {"query": f"SELECT region, SUM(amount) AS total FROM `{PROJECT}.{dataset}.{table}` "
                      f"WHERE amount > @least GROUP BY region ORDER BY region",
             "useLegacySql": False, "parameterMode": "NAMED",
             "queryParameters": [{"name": "least", "parameterType": {"type": "INT64"},
                                  "parameterValue": {"value": "4"}}]}
    status, _, through, _ = standin.endpoint.call("POST", f"/bigquery/v2/projects/{PROJECT}/queries", query)
    direct_status, _, direct, _ = emulator.call("POST", f"/bigquery/v2/projects/{PROJECT}/queries", query)
    assert status == direct_status == 200
    assert through["rows"] == direct["rows"] == [{"f": [{"v": "IN"}, {"v": "16"}]}, {"f": [{"v": "US"}, {"v": "7"}]}]

    job = bq_client.query(f"SELECT SUM(amount) AS total FROM `{PROJECT}.{dataset}.{table}` WHERE region = @region",
                          job_config=bigquery.QueryJobConfig(query_parameters=[
                              bigquery.ScalarQueryParameter("region", "STRING", "IN")]))
    assert [row["total"] for row in job.result(timeout=60)] == [16]


def test_keep_alive_and_http_1_1(standin, dataset):
    conn = standin.endpoint.connection()
    try:
        seen = set()
        for _ in range(3):
            status, response, _, _ = standin.endpoint.call(
                "GET", f"/bigquery/v2/projects/{PROJECT}/datasets/{dataset}", conn=conn)
            assert status == 200 and response.version == 11
            assert (response.getheader("Connection") or "").lower() != "close"
            seen.add(id(conn.sock))
        assert len(seen) == 1, "the stand-in closed a keep-alive connection"
    finally:
        conn.close()


def test_stats_count_what_passed(standin, dataset):
    table = fresh("counted")
    create_table(standin.endpoint, dataset, table, [("d", "DATE"), ("n", "INT64")],
                 timePartitioning={"type": "DAY", "field": "d"})
    today = standin.today.isoformat()
    before = standin.stats()
    insert(standin.endpoint, dataset, table, [{"d": today, "n": 0}, {"d": "2010-01-01", "n": 1},
                                              {"d": "bogus", "n": 2}], skip=True)
    insert(standin.endpoint, dataset, table, [{"d": today, "n": 3}, {"d": "2010-01-01", "n": 4}], skip=False)
    insert(standin.endpoint, dataset, table, [{"d": today, "n": 5}], skip=False)
    after = standin.stats()
    assert after["tables"][f"{PROJECT}:{dataset}.{table}"] == {
        "requests": 3, "rows": 6, "accepted": 2, "refused": 2, "stopped": 1, "failed": 1, "deduplicated": 0}
    assert after["refused_batches"] == before["refused_batches"] + 2
    assert after["requests_forwarded"] > before["requests_forwarded"]


# --------------------------------------------------------------------------------------
# Best-effort deduplication by insertId


def test_an_insert_id_seen_within_the_window_is_dropped_silently(standin, emulator, dataset):
    table = fresh("dedupe")
    create_table(standin.endpoint, dataset, table, [("n", "INT64")])
    assert insert(standin.endpoint, dataset, table, [{"n": 1}, {"n": 2}], ids=["a", "b"]) == []
    # "a" again (a retry), "c" new, and "c" twice in one request: only the first "c" goes in
    assert insert(standin.endpoint, dataset, table, [{"n": 10}, {"n": 3}, {"n": 30}], ids=["a", "c", "c"]) == []
    assert stored(emulator, dataset, table) == ["1", "2", "3"]
    # the same id in another table is another row
    other = fresh("dedupe_other")
    create_table(standin.endpoint, dataset, other, [("n", "INT64")])
    assert insert(standin.endpoint, dataset, other, [{"n": 4}], ids=["a"]) == []
    assert stored(emulator, dataset, other) == ["4"]
    assert standin.stats()["tables"][f"{PROJECT}:{dataset}.{table}"]["deduplicated"] == 2
    assert "rows dropped as insertIds seen" in standin.log()


def test_an_insert_id_is_taken_again_after_the_window(emulator, dataset):
    short = StandIn(emulator.url, "--dedupe-seconds", "0.5")
    try:
        table = fresh("dedupe_window")
        create_table(short.endpoint, dataset, table, [("n", "INT64")])
        insert(short.endpoint, dataset, table, [{"n": 1}], ids=["a"])
        insert(short.endpoint, dataset, table, [{"n": 2}], ids=["a"])
        time.sleep(0.8)
        insert(short.endpoint, dataset, table, [{"n": 3}], ids=["a"])
        assert stored(emulator, dataset, table) == ["1", "3"]
    finally:
        assert short.stop() == 0
