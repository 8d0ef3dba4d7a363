"""The PynamoDB models and template.yaml agree on keys and indexes: the
template is the source of truth, and a model index it does not declare
would fail only in AWS."""

import pytest

from gridpulse.accounts import data as users
from gridpulse.alerts import data as alerts
from gridpulse.devices import data as devices
from gridpulse.groups import data as groups
from gridpulse.sites import data as sites
from gridpulse.telemetry import data as telemetry
from infrastructure.cfn import Stack, load

MODELS = {
    "UsersTable": [
        users.UserItem,
        users.LoginNameItem,
        users.ResetTokenItem,
        users.LoginAttemptsItem,
        users.CounterItem,
    ],
    "SitesTable": [sites.HotelItem, sites.SectionItem, sites.RoomItem],
    "DevicesTable": [
        devices.DeviceItem,
        devices.DeviceStateItem,
        devices.ApiKeyItem,
        groups.GroupItem,
        groups.MembershipItem,
        alerts.AlertRulesItem,
        devices.DeviceCounterItem,
        devices.DeviceLogItem,
    ],
    "TelemetryTable": [telemetry.RawItem, telemetry.DayItem, telemetry.MonthItem, telemetry.QuarantineItem],
    "AlertsTable": [alerts.AlertItem, alerts.OpenGuardItem, alerts.AlertStateItem],
}


def _keys(schema: list[dict]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


@pytest.mark.parametrize("logical", sorted(MODELS))
def test_models_use_the_templates_keys_and_indexes(logical):
    table = Stack(load()).resources("AWS::DynamoDB::Table")[logical]["Properties"]
    declared = {i["IndexName"]: _keys(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])}
    for model in MODELS[logical]:
        hash_key = model._hash_keyname
        range_key = model._range_keyname
        assert _keys(table["KeySchema"]) == {"HASH": hash_key, **({"RANGE": range_key} if range_key else {})}, model
        for name, index in model._indexes.items():
            attrs = {a.attr_name: a for a in index.Meta.attributes.values()}
            keys = {
                "HASH": next(n for n, a in attrs.items() if a.is_hash_key),
                "RANGE": next(n for n, a in attrs.items() if a.is_range_key),
            }
            assert declared.get(name) == keys, f"{model.__name__}.{name}"
