"""How many DynamoDB requests an assistant answer makes over many devices: the
device contexts, day rollups and today's rollups of all the devices are read in
BatchGetItem requests, not one device after the other, and the figures still
equal the energy route's."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from gridpulse.devices.context import forget_context
from tests.integration.test_assistant import _feed, _meter, ask

DEVICES = 20
FED = 4


def test_an_answer_over_many_devices_reads_them_in_batches(api, dynamodb_calls):
    ann = api.register("ann@example.com")["token"]
    meters = [_meter(api, ann, f"Meter {i:02d}") for i in range(DEVICES)]
    for i, meter in enumerate(meters[:FED]):
        _feed(api, meter, 0.01 * (i + 1), 500, [20, 10, 2])

    def requests(question: str) -> Counter:
        dynamodb_calls.clear()
        ask(api, ann, question)
        return Counter(dynamodb_calls.dynamodb())

    forget_context()  # a new container: no device context cached
    cold = requests("how much energy did I use in the last 10 days")
    # Before: a GetItem (context) and a Query (rollups) per device, 2 x 20 + 4 requests.
    # Now: the list (2 Queries: the caller's devices and its prepaid meter assignments; 1 BatchGetItem
    # of states), the contexts (1), the rollups (200 keys: 2), the conversation (GetItem, PutItem).
    assert cold["Query"] == 2 and cold["GetItem"] == 1 and cold["BatchGetItem"] <= 4 and sum(cold.values()) <= 9, cold
    power = requests("what is my current power")
    # Today's rollups in one BatchGetItem; only the devices without one today look for an older reading.
    assert power["GetItem"] == 1 and power["Query"] == 2 + DEVICES - FED, power

    week = ask(api, ann, "how much energy did I use in the last 3 days")
    assert len(week["data"]["devices"]) == DEVICES
    for row in week["data"]["devices"][:FED]:
        status, energy = api.get(
            f"/devices/{row['device_id']}/energy",
            token=ann,
            query={"period": "day", "start": week["period"]["start"], "end": week["period"]["end"], "tz": "UTC"},
        )
        assert status == 200 and Decimal(row["kwh"]) == Decimal(str(energy["total_kwh"])) > 0
