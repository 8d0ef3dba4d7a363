"""`POST /_local/tuya/faults` of the Tuya Cloud stand-in: a bad body is a clear 400 naming the
field with our own words (never a Python exception's text); a good one switches the mode."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from infrastructure.local.tuya import TuyaStandIn


@pytest.fixture
def cloud():
    return TuyaStandIn("a" * 20, "b" * 32, meters=1, speed=0.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"{not json", "body"),
        (b"[1]", "body"),
        (b'"down"', "body"),
        (b"{}", "mode"),
        (b'{"mode": "sideways"}', "mode"),
        (b'{"mode": ["down"]}', "mode"),
        (b'{"mode": "slow", "delay_s": "soon"}', "delay_s"),
        (b'{"mode": "slow", "delay_s": -1}', "delay_s"),
        (b'{"mode": "slow", "delay_s": true}', "delay_s"),
        (b'{"mode": "slow", "delay_s": 1e9}', "delay_s"),
    ],
)
def test_a_bad_fault_request_is_400_naming_the_field_without_python_text(cloud, body, field):
    response = Client(cloud).post("/_local/tuya/faults", data=body, content_type="application/json")
    out = response.get_json()
    assert response.status_code == 400
    assert out["error"] == "validation_error" and [f["field"] for f in out["fields"]] == [field]
    assert all(f["code"] and f["message"] for f in out["fields"])
    for python_text in ("Expecting", "line 1", "object has no attribute", "NoneType", "could not convert", "Error"):
        assert python_text not in out["message"]
    assert cloud.mode == "none"


def test_a_good_fault_request_switches_the_stand_in(cloud):
    client = Client(cloud)
    assert client.post("/_local/tuya/faults", json={"mode": "slow", "delay_s": 0.5}).get_json() == {
        "mode": "slow",
        "slow_s": 0.5,
    }
    assert client.post("/_local/tuya/faults", json={"mode": "none"}).get_json()["mode"] == "none"
