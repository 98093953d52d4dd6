"""The seed-upload checks of test_upload_seed.py again, in gcp mode: the same real server
with Config/emulator.json, raw files in the Cloud Storage emulator, rows and upload
records in the BigQuery emulator. Each server gets its own bucket and dataset."""
from __future__ import annotations

import pytest

import gcp_support
# The tests and their module fixtures (`expected`, `seeded`); the `server` and
# `fresh_server` fixtures below replace conftest's embedded servers for them.
from test_upload_seed import *  # noqa: F401,F403

pytestmark = gcp_support.requires_emulators


@pytest.fixture(scope="module")
def server():
    """A gcp-mode server shared by the tests of this module."""
    place = gcp_support.Place("seed")
    running = place.start()
    yield running
    place.stop_all()


@pytest.fixture
def fresh_server():
    """A gcp-mode server on a bucket and dataset of its own (an empty warehouse)."""
    place = gcp_support.Place("fresh")
    running = place.start()
    yield running
    place.stop_all()


def test_objects_are_in_cloud_storage(seeded):
    for result in seeded.values():
        assert result["object_uri"].startswith("gs://it-seed-"), result["object_uri"]
