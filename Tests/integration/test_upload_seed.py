"""The real sample files through the real server: the numbers must equal the
independent reference (reference.py) to the cent."""
from __future__ import annotations

from datetime import date

import pytest

import reference
import support


@pytest.fixture(scope="module")
def expected(seed):
    """The reference's results for IN.csv and usa.csv, by region."""
    return {
        "IN": reference.load_file(str(seed / "IN.csv")),
        "USA": reference.load_file(str(seed / "usa.csv")),
    }


@pytest.fixture(scope="module")
def seeded(server, seed):
    """Both seed files uploaded in one request; the answer's results by region."""
    response = support.upload(server, seed / "IN.csv", seed / "usa.csv")
    assert response.status == 200, (response.status, response.body[:2000])
    results = support.uploads_of(response)
    assert len(results) == 2, results
    return {result["region"]: result for result in results}


def test_two_seed_files_in_one_request_match_the_reference(seeded, expected):
    assert set(seeded) == {"IN", "USA"}
    for region, result in seeded.items():
        want = expected[region]
        assert result["status"] == "loaded", result
        assert result["file"] == want.file
        assert result["rows"] == {"read": want.read, "loaded": want.loaded,
                                  "rejected": want.rejected, "duplicates": want.duplicates}
        assert result["revenue"] == want.revenue_text
        assert isinstance(result["id"], str) and result["id"]
        assert len(result["sha256"]) == 64
        assert result["object_uri"].startswith(("file://", "gs://"))
        assert result["rejects"] == []


def test_money_is_a_decimal_string_never_a_float(seeded):
    for result in seeded.values():
        assert isinstance(result["revenue"], str)
        assert result["revenue"].count(".") == 1 and len(result["revenue"].split(".")[1]) == 2


def test_same_file_again_is_already_loaded_and_loads_nothing_new(server, seeded, seed, expected):
    before = support.summary(server)
    response = support.upload(server, seed / "IN.csv")
    assert response.status == 200, response.body
    [again] = support.uploads_of(response)
    assert again["status"] == "already_loaded", again
    assert again["region"] == "IN"
    assert again["rows"]["loaded"] == 0
    assert again["sha256"] == seeded["IN"]["sha256"]
    assert support.summary(server) == before


def test_history_lists_both_uploads(server, seeded):
    ids = [record["id"] for record in support.history(server)]
    assert seeded["IN"]["id"] in ids
    assert seeded["USA"]["id"] in ids


def test_upload_record_by_id(server, seeded):
    for result in seeded.values():
        response = support.get(server, f"/api/uploads/{result['id']}")
        assert response.status == 200, response.body
        record = response.json()
        if isinstance(record.get("upload"), dict):
            record = record["upload"]
        assert record["id"] == result["id"]
        assert record["region"] == result["region"]
        assert record["status"] == "loaded"
        assert record["rows"] == result["rows"]
        assert record["revenue"] == result["revenue"]


def test_unknown_upload_id_is_404_json(server):
    response = support.get(server, "/api/uploads/no-such-upload")
    assert response.status == 404
    support.problem(response)


def test_summary_over_everything_matches_the_reference(server, seeded, expected):
    assert support.summary(server) == reference.summary(expected.values())


@pytest.mark.parametrize("region", ["IN", "USA"])
def test_summary_of_one_region_matches_the_reference(server, seeded, expected, region):
    assert support.summary(server, region=region) == reference.summary(expected.values(), region=region)


def test_summary_of_a_date_range_matches_the_reference(server, seeded, expected):
    want = reference.summary(expected.values(), date_from=date(2010, 12, 8), date_to=date(2011, 4, 19))
    got = support.summary(server, date_from="2010-12-08", date_to="2011-04-19")
    assert got == want
    # The range must cut something off, or this test would prove nothing.
    assert want != reference.summary(expected.values())


def test_summary_of_one_region_and_a_date_range_matches_the_reference(server, seeded, expected):
    want = reference.summary(expected.values(), region="IN", date_from=date(2011, 1, 1), date_to=date(2011, 6, 30))
    got = support.summary(server, region="IN", date_from="2011-01-01", date_to="2011-06-30")
    assert got == want
    assert want["orders"] > 0


def test_history_is_newest_first(fresh_server, seed):
    first = support.upload(fresh_server, seed / "usa.csv")
    second = support.upload(fresh_server, seed / "IN.csv")
    assert first.status == 200 and second.status == 200
    ids = [record["id"] for record in support.history(fresh_server)]
    assert ids[:2] == [support.uploads_of(second)[0]["id"], support.uploads_of(first)[0]["id"]]


def test_region_field_overrides_the_file_name(fresh_server, seed, tmp_path):
    copy = tmp_path / "sales-export.csv"
    copy.write_bytes((seed / "usa.csv").read_bytes())
    response = support.upload(fresh_server, copy, region="USA")
    assert response.status == 200, response.body
    [result] = support.uploads_of(response)
    want = reference.load_file(str(copy), region="USA")
    assert result["region"] == "USA"
    assert result["revenue"] == want.revenue_text
