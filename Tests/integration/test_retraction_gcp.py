"""Taking an upload back in gcp mode, against the Cloud Storage and BigQuery emulators: the
retracted upload's rows leave every report and the `orders_report` view (read back with
google-cloud-bigquery), rows another upload had skipped as its duplicates come back, and the
same bytes load again. Each test has its own bucket and dataset. Under CI=true, missing
emulators fail the tests instead of skipping them."""
from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

import access_support as access
import gcp_support
import reference
import retraction_support as rs
import support

UK_ROWS = 3000
"""Small: the BigQuery emulator stores about a thousand rows a second."""


@pytest.fixture(autouse=True)
def emulators():
    access.requires_emulators_or_fail()


@pytest.fixture
def place():
    running = gcp_support.Place("retract")
    yield running
    running.stop_all()


@pytest.fixture(scope="module")
def uk_file(tmp_path_factory) -> tuple[Path, reference.FileResult]:
    path = rs.generate(tmp_path_factory.mktemp("uk-gcp") / "UK.csv", UK_ROWS, seed=31)
    return path, reference.load_file(str(path))


@pytest.fixture(scope="module")
def seed_results(seed) -> list[reference.FileResult]:
    return [reference.load_file(str(seed / "IN.csv")), reference.load_file(str(seed / "usa.csv"))]


def view_mismatches(place: gcp_support.Place, results: list[reference.FileResult], gone_ids: list[str]) -> list[str]:
    """Where the `orders_report` view differs from the reference over `results`: its row count,
    SUM(revenue) over all rows and over product lines; rows of `gone_ids` must not be in it."""
    [got] = gcp_support.query(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT row_key) AS keys, SUM(revenue) AS total, "
        f"SUM(IF(is_product, revenue, 0)) AS product_revenue FROM {gcp_support.view(place)}")
    rows = reference.matching_rows(results)
    want = {"n": len(rows), "keys": len(rows), "total": sum((r.revenue for r in rows), Decimal(0)),
            "product_revenue": Decimal(reference.summary(results)["revenue"])}
    seen = {"n": got["n"], "keys": got["keys"], "total": Decimal(got["total"] or 0),
            "product_revenue": reference.money(Decimal(got["product_revenue"] or 0))}
    problems = [f"view {seen} != reference {want}"] if seen != want else []
    if gone_ids:
        ids = ", ".join(f"'{i}'" for i in gone_ids)
        [left] = gcp_support.query(f"SELECT COUNT(*) AS n FROM {gcp_support.view(place)} WHERE upload_id IN ({ids})")
        if left["n"]:
            problems.append(f"the view still has {left['n']} rows of retracted uploads {gone_ids}")
    return problems


def _load_seed(server: support.Server, seed: Path) -> None:
    for name in ("IN.csv", "usa.csv"):
        result = rs.upload_one(server, seed / name, timeout=600)
        assert result["status"] == "loaded", result


def test_retracted_upload_leaves_reports_and_view_and_loads_again(place, seed, seed_results, uk_file):
    uk_path, uk = uk_file
    server = place.start()
    started = time.monotonic()
    _load_seed(server, seed)
    first = rs.upload_one(server, uk_path, timeout=600)
    assert first["status"] == "loaded" and first["rows"]["loaded"] == uk.loaded, first
    everything = [*seed_results, uk]
    problems = ["loaded: " + p for p in rs.report_mismatches(server, everything) + view_mismatches(place, everything, [])]

    response = rs.retract(server, first["id"], timeout=600)
    assert response.status == 200, (response.status, response.body)
    answer = response.json()
    assert (answer["status"], answer["retracted_by"], answer["user"]) == ("retracted", "anonymous", "anonymous"), answer
    assert gcp_support.download(answer["object_uri"]) == uk_path.read_bytes(), "the raw file must stay"
    problems += ["retracted: " + p for p in rs.report_mismatches(server, seed_results, gone=[uk])
                 + view_mismatches(place, seed_results, [first["id"]])]
    assert rs.record(server, first["id"])["status"] == "retracted"
    again = rs.retract(server, first["id"])
    assert again.status == 200 and again.json()["retracted_at"] == answer["retracted_at"], (again.status, again.body)

    reloaded = rs.upload_one(server, uk_path, timeout=600)
    assert reloaded["status"] == "loaded", reloaded
    assert reloaded["id"] != first["id"] and reloaded["rows"] == first["rows"], reloaded
    problems += ["loaded again: " + p for p in rs.report_mismatches(server, everything)
                 + view_mismatches(place, everything, [first["id"]])]
    print(f"\ngcp retraction round trip: {time.monotonic() - started:.1f}s")
    assert problems == []


def test_rows_skipped_as_duplicates_come_back_in_the_view(place, seed, seed_results, uk_file, tmp_path):
    uk_path, uk = uk_file
    p_path = rs.partly_duplicate(uk_path, tmp_path / "P.csv", slice(500, 1100), 300, first_invoice=970000)
    p = reference.load_file(str(p_path), region="UK")
    assert len({r.key() for r in p.rows} & {r.key() for r in uk.rows}) > 500

    server = place.start()
    _load_seed(server, seed)
    first = rs.upload_one(server, uk_path, timeout=600)
    assert first["status"] == "loaded", first
    second = rs.upload_one(server, p_path, region="UK", timeout=600)
    # In BigQuery a fresh load sends rows that repeat another upload's (the view counts each key
    # once): P counts as duplicates only the lines repeated within its own file.
    assert second["status"] == "loaded", second
    assert (second["rows"]["loaded"], second["rows"]["duplicates"]) == (p.loaded, p.duplicates), (second, p.loaded, p.duplicates)
    problems = ["both loaded: " + m for m in view_mismatches(place, [*seed_results, uk, p], [])]

    response = rs.retract(server, first["id"], timeout=600)
    assert response.status == 200 and response.json()["status"] == "retracted", (response.status, response.body)
    survivors = [*seed_results, p]
    problems += ["UK retracted: " + m for m in rs.report_mismatches(server, survivors, gone=[uk])
                 + view_mismatches(place, survivors, [first["id"]])]
    assert rs.record(server, second["id"])["status"] == "loaded"
    assert problems == []
