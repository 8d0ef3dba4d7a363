"""Devices another cloud provides (Tuya prepaid meters): registered in the
registry like any device, but without AWS IoT provisioning.

Such a device never talks to our ingestion: no IoT thing, certificate or API
key is made. Its registry record still has the attributes every device has:
`thing_name` is the name a thing *would* have (none exists; deleting the
device tolerates that), `api_key_hash` is EXTERNAL_KEY_HASH, which no API key
hashes to (keys hash to hex), so no request authenticates as it.

* Its id is derived from the provider and the provider's id
  (`external_device_id`, a UUID 5), so importing the same meter twice finds the
  first record with one GetItem. A record under another id (a meter an admin
  registered by hand before registration used the derived id) is found by a
  Query of the devices table's sparse `by-external` index (`by_external_id`),
  asked only for ids the GetItem did not find (no scan).
* It is owned by the provider's pseudo owner (`provider:<name>`, no such user):
  admins see it (by-type index), others through what its own context grants
  (prepaid meters: billing assignments).
* Its online state is the provider's (`connected` on the state item).
* A device the provider no longer lists is marked, not deleted:
  `status` becomes `inactive` and `provider_removed_at` is set; its billing
  history stays. Listed again, it is active again.
"""

from __future__ import annotations

import uuid

from pynamodb.transactions import TransactWrite

from gridpulse.devices import provisioning
from gridpulse.devices.data import DeviceCounterItem, DeviceItem, DeviceStateItem
from gridpulse.dynamodb import batch_get_intact, connection, get_or_none, intact
from gridpulse.timeutil import iso, utcnow

EXTERNAL_KEY_HASH = "external:no-api-key"
TUYA = "tuya"  # the provider of prepaid meters (gridpulse.billing.sync.PROVIDER)
_NAMESPACE = uuid.UUID("6f1c2d0e-5b7a-4c53-9a51-2f0b8e4d9c11")


def external_device_id(provider: str, external_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{provider}:{external_id}"))


def owner_for(provider: str) -> str:
    return f"provider:{provider}"


def find(provider: str, external_ids: list[str], device_type: str) -> dict[str, DeviceItem]:
    """The registered devices of these provider ids, by provider id: one BatchGetItem per 100
    derived ids, then a `by-external` Query for each id not found that way (new meters, and
    meters registered by hand under a random id)."""
    ids = {external_device_id(provider, e): e for e in external_ids}
    keys = [(DeviceItem.key(d), "meta") for d in ids]
    found = batch_get_intact(DeviceItem, keys, "device") if keys else []
    known = {ids[d.device_id]: d for d in found if d.device_id in ids}
    for external_id in dict.fromkeys(external_ids):
        if external_id not in known:
            device = by_external_id(provider, external_id, device_type)
            if device is not None:
                known[external_id] = device
    return known


def by_external_id(provider: str, external_id: str, device_type: str) -> DeviceItem | None:
    """The device of this type registered under any id with this provider id (the oldest if
    there are several), from the sparse `by-external` index; a record naming another provider is
    not it. Eventually consistent: a record written a moment ago may be missed."""
    matches = [
        d
        for d in intact(DeviceItem.by_external.query(external_id), "device")
        if d.device_type == device_type and d.provider in (None, provider)
    ]
    return min(matches, key=lambda d: (d.created_at, d.device_id)) if matches else None


def registered(provider: str, external_id: str, device_type: str) -> DeviceItem | None:
    """The device registered for this provider id: the derived id (GetItem), else `by_external_id`."""
    device = get_or_none(DeviceItem, DeviceItem.key(external_device_id(provider, external_id)), "meta")
    return device or by_external_id(provider, external_id, device_type)


def register(
    provider: str, external_id: str, name: str, device_type: str, online: bool | None
) -> tuple[DeviceItem, bool]:
    """The device for this provider id: created now (True) or found (False)."""
    device_id = external_device_id(provider, external_id)
    now = iso(utcnow())
    owner = owner_for(provider)
    device = DeviceItem(
        DeviceItem.key(device_id),
        "meta",
        device_id=device_id,
        owner_id=owner,
        owner_sk=f"device#{now}#{device_id}",
        name=name,
        device_type=device_type,
        status="active",
        list_sk=f"{now}#{device_id}",
        provider=provider,
        external_id=external_id,
        thing_name=provisioning.thing_name_for(device_id),
        api_key_hash=EXTERNAL_KEY_HASH,
        created_at=now,
        updated_at=now,
    )
    state = DeviceStateItem(DeviceItem.key(device_id), "state", connected=online, last_seen=now if online else None)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(device, condition=DeviceItem.pk.does_not_exist())
            tx.save(state)
            tx.update(DeviceCounterItem(), actions=[DeviceCounterItem.total.add(1), DeviceCounterItem.active.add(1)])
    except Exception as exc:
        existing = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
        if existing is None:
            raise exc
        return existing, False
    return device, True


UNREAD = object()


def states(devices: list[DeviceItem]) -> dict[str, DeviceStateItem | None]:
    """The state items of these devices by device id (one BatchGetItem per 100; None: no state)."""
    keys = [(DeviceItem.key(d.device_id), "state") for d in devices]
    found = {s.pk.split("#", 1)[1]: s for s in batch_get_intact(DeviceStateItem, keys, "device state")}
    return {d.device_id: found.get(d.device_id) for d in devices}


def update(device: DeviceItem, name: str | None, online: bool | None, state=UNREAD) -> bool:
    """Bring the registry in line with the provider (name, online, listed again); True if it changed.
    `state`: the device's state item as already read (`states`), else it is read here."""
    actions = []
    if name and name != device.name:
        actions.append(DeviceItem.name.set(name))
    if device.provider_removed_at is not None:
        actions += [DeviceItem.provider_removed_at.remove(), DeviceItem.status.set("active")]
    changed = bool(actions)
    if actions:
        actions.append(DeviceItem.updated_at.set(iso(utcnow())))
        with TransactWrite(connection=connection()) as tx:
            tx.update(device, actions=actions, condition=DeviceItem.pk.exists())
            if device.provider_removed_at is not None and device.status != "active":
                tx.update(DeviceCounterItem(), actions=[DeviceCounterItem.active.add(1)])
    if online is not None:
        if state is UNREAD:
            state = get_or_none(DeviceStateItem, DeviceItem.key(device.device_id), "state")
        if state is None or state.connected != online:
            now = iso(utcnow())
            sets = [DeviceStateItem.connected.set(online)]
            if online:
                sets.append(DeviceStateItem.last_seen.set(now))
            DeviceStateItem(DeviceItem.key(device.device_id), "state").update(actions=sets)
            changed = True
    return changed


def mark_removed(device: DeviceItem) -> bool:
    """The provider no longer lists it: inactive, `provider_removed_at` set (kept, not deleted)."""
    if device.provider_removed_at is not None:
        return False
    now = iso(utcnow())
    with TransactWrite(connection=connection()) as tx:
        tx.update(
            device,
            actions=[
                DeviceItem.provider_removed_at.set(now),
                DeviceItem.status.set("inactive"),
                DeviceItem.updated_at.set(now),
            ],
            condition=DeviceItem.pk.exists(),
        )
        if device.status == "active":
            tx.update(DeviceCounterItem(), actions=[DeviceCounterItem.active.add(-1)])
    DeviceStateItem(DeviceItem.key(device.device_id), "state").update(actions=[DeviceStateItem.connected.set(False)])
    return True


def listed(provider: str, device_type: str):
    """Every device of this type imported from this provider (owned by its pseudo owner; devices
    registered by hand with POST /devices are not among them): the by-type index, page by page."""
    last = None
    mine = (DeviceItem.provider == provider) & (DeviceItem.owner_id == owner_for(provider))
    while True:
        result = DeviceItem.by_type.query(device_type, filter_condition=mine, limit=200, last_evaluated_key=last)
        yield from result
        last = result.last_evaluated_key
        if not last:
            return
