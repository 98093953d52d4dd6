"""Two portals on the same bucket and dataset (two replicas behind a load balancer):
the upload records live in BigQuery, so both show the same history, the same totals,
and a file loaded through one is `already_loaded` through the other."""
from __future__ import annotations

import pytest

import gcp_support
import reference
import support

pytestmark = gcp_support.requires_emulators


@pytest.fixture(scope="module")
def replicas():
    place = gcp_support.Place("replicas")
    first, second = place.start(), place.start()
    yield first, second
    place.stop_all()


@pytest.fixture(scope="module")
def loaded(replicas, seed):
    first, second = replicas
    via_first = support.upload(first, seed / "IN.csv")
    via_second = support.upload(second, seed / "usa.csv")
    assert via_first.status == 200, via_first.body
    assert via_second.status == 200, via_second.body
    return support.uploads_of(via_first)[0], support.uploads_of(via_second)[0]


def test_both_replicas_show_the_same_history(replicas, loaded):
    first, second = replicas
    ids = {result["id"] for result in loaded}
    history_first, history_second = support.history(first), support.history(second)
    assert ids <= {record["id"] for record in history_first}
    assert ids <= {record["id"] for record in history_second}
    assert [(r["id"], r["status"]) for r in history_first] == [(r["id"], r["status"]) for r in history_second]


def test_each_replica_reads_the_record_the_other_wrote(replicas, loaded):
    first, second = replicas
    in_result, usa_result = loaded
    for server, result in ((second, in_result), (first, usa_result)):
        response = support.get(server, f"/api/uploads/{result['id']}")
        assert response.status == 200, response.body
        record = response.json()
        assert record["id"] == result["id"], record
        assert record["status"] == "loaded"
        assert record["rows"] == result["rows"]
        assert record["revenue"] == result["revenue"]


def test_both_replicas_report_the_same_totals_as_the_reference(replicas, loaded, seed):
    first, second = replicas
    want = reference.summary([reference.load_file(str(seed / "IN.csv")), reference.load_file(str(seed / "usa.csv"))])
    assert support.summary(first) == want
    assert support.summary(second) == want


def test_file_loaded_through_one_replica_is_already_loaded_through_the_other(replicas, loaded, seed):
    first, second = replicas
    before = support.summary(first)
    response = support.upload(second, seed / "IN.csv")
    assert response.status == 200, response.body
    [again] = support.uploads_of(response)
    assert again["status"] == "already_loaded", again
    assert again["rows"]["loaded"] == 0
    assert again["sha256"] == loaded[0]["sha256"]
    assert support.summary(first) == before
    assert support.summary(second) == before
