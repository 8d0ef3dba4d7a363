"""The device registry: provisioning, visibility, presence and device auth.

A device is registered by a person (its owner) or, in a hotel room, by an
admin or an operator of that hotel. Registering provisions it in AWS IoT
(see gridpulse.devices.provisioning) and gives it an HTTP API key; the
certificate, private key and API key are returned once and only their
hashes / IoT ids are stored.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from gridpulse.accounts.roles import Caller
from gridpulse.aws import client
from gridpulse.devices import external, provisioning
from gridpulse.devices.data import (
    DEVICE_TYPES,
    ApiKeyItem,
    DeviceCounterItem,
    DeviceItem,
    DeviceStateItem,
    light_city_of,
)
from gridpulse.devices.lookup import (  # noqa: F401  (re-exported: the registry's public names)
    DESCRIPTIVE_FIELDS,
    DETAIL_FIELDS,
    DEVICE_FIELDS,
    ONLINE_WINDOW_S,
    PRESENCE_ATTRIBUTES,
    STATUS_FIELDS,
    computed_fields,
    device_view,
    is_online,
    owned,
    state_by_id,
    state_of,
    states_for,
    status_view,
    visible,
    visible_or_assigned,
    with_states,
)
from gridpulse.dynamodb import batch_get_intact, connection, get_or_none, intact
from gridpulse.errors import BadRequest, Conflict, Forbidden, Unauthorized, field_error
from gridpulse.groups.data import MembershipItem
from gridpulse.observability import annotate, count, logger
from gridpulse.pagination import chained_page, decode_token, encode_token
from gridpulse.security.opaque import new_secret, secret_hash
from gridpulse.settings import get_settings
from gridpulse.sites import scope
from gridpulse.sites import service as sites
from gridpulse.timeutil import iso, utcnow
from gridpulse.views import view

API_KEY_PREFIX = "gpk_"


# ---------------------------------------------------------------- views


def detail_view(device: DeviceItem, state: DeviceStateItem | None) -> dict:
    return view(
        device,
        DETAIL_FIELDS,
        **computed_fields(device, state),
        reported_config=state.reported_config.as_dict() if state and state.reported_config else None,
        connected=state.connected if state else None,
        topics=provisioning.topics_for(device.thing_name),
        summary=_prepaid_summary(device),
    )


def _prepaid_summary(device: DeviceItem) -> dict | None:
    """A prepaid meter's balance summary (seed 004), from the billing books as
    last read; the billing package is imported only for prepaid meters."""
    if device.device_type != "prepaid_meter":
        return None
    from gridpulse.billing.service import summary_for

    return summary_for(device)


# ---------------------------------------------------------------- registration


def _placement(caller: Caller, room_id: str | None) -> dict:
    """Where a new device goes. A hotel room needs the caller to manage that hotel."""
    if not room_id:
        return {}
    room = sites.managed_room(caller, room_id)
    return {"room_id": room.room_id, "section_id": room.section_id, "hotel_id": room.hotel_id}


def _city_key(city: str | None) -> str | None:
    return city.strip().lower() if city else None


def register(caller: Caller, fields: dict, wifi: dict | None = None) -> tuple[dict, dict]:
    """Create and provision a device owned by the caller. Returns (device, credentials).

    A prepaid meter is registered by an admin only (403 otherwise), once Tuya has
    confirmed its external_id is a prepaid meter (gridpulse.billing.service.check_external_id)."""
    if fields.get("device_type") == "prepaid_meter":
        if not caller.is_admin:
            raise Forbidden("Only an admin registers prepaid meters.", code="forbidden")
        from gridpulse.billing.service import check_external_id

        check_external_id(str(fields.get("external_id")))
    placement = _placement(caller, fields.get("room_id"))
    device_id = str(uuid.uuid4())
    if fields.get("device_type") == "prepaid_meter":
        # The id the sync gives this Tuya meter (gridpulse.devices.external): a refresh that lists
        # it later finds this record with a GetItem instead of importing it a second time. One
        # registered already, under that id or by hand under another (by-external index): 409.
        device_id = external.external_device_id(external.TUYA, str(fields.get("external_id")))
        if external.registered(external.TUYA, str(fields.get("external_id")), "prepaid_meter") is not None:
            raise _meter_registered()
    thing_name = provisioning.thing_name_for(device_id)
    now = iso(utcnow())
    api_key = new_secret(API_KEY_PREFIX)
    device = DeviceItem(
        DeviceItem.key(device_id),
        "meta",
        device_id=device_id,
        owner_id=caller.user_id,
        owner_sk=f"device#{now}#{device_id}",
        name=fields["name"],
        device_type=fields["device_type"],
        status="active",
        list_sk=f"{now}#{device_id}",
        city=fields.get("city"),
        city_key=_city_key(fields.get("city")),
        light_city=light_city_of(fields["device_type"], fields.get("city")),
        city_scoped=True if fields.get("city") and caller.is_admin else None,
        thing_name=thing_name,
        api_key_hash=secret_hash(api_key),
        wifi_ssid=(wifi or {}).get("ssid"),
        created_at=now,
        updated_at=now,
        **placement,
        **{f: fields.get(f) for f in DESCRIPTIVE_FIELDS},
    )
    provisioning.create_thing(thing_name, device_id, device.device_type)
    cert = None
    written = False
    try:
        cert = provisioning.issue_certificate(thing_name)
        device.certificate_id = cert.certificate_id
        device.certificate_arn = cert.certificate_arn
        with TransactWrite(connection=connection()) as tx:
            tx.save(device, condition=DeviceItem.pk.does_not_exist())
            tx.save(DeviceStateItem(DeviceItem.key(device_id), "state"))
            tx.save(ApiKeyItem(ApiKeyItem.key(device.api_key_hash), "apikey", device_id=device_id))
            tx.update(DeviceCounterItem(), actions=[DeviceCounterItem.total.add(1), DeviceCounterItem.active.add(1)])
        written = True
        if wifi:
            provisioning.set_desired(thing_name, {"wifi": {"ssid": wifi["ssid"], "password": wifi["password"]}})
    except Exception:
        logger.exception("provisioning failed; rolling back", extra={"device_id": device_id})
        if cert is not None:
            provisioning.revoke_certificate(thing_name, cert.certificate_id, cert.certificate_arn)
        provisioning.delete_thing(thing_name)
        if written:  # a failed transaction wrote nothing (and the id may be another's: a prepaid meter's)
            _delete_items(device)
        if device.device_type == "prepaid_meter" and get_or_none(DeviceItem, DeviceItem.key(device_id), "meta"):
            raise _meter_registered() from None  # registered (or imported) meanwhile
        raise
    count("DeviceProvisioned")
    return device_view(device, None), _credentials(thing_name, cert, api_key)


def _meter_registered() -> Conflict:
    return Conflict(
        "This Tuya meter is registered already (by an admin or the sync).",
        code="device_exists",
        fields=[field_error("external_id", "a device with this external_id exists", "duplicate")],
    )


def _credentials(thing_name: str, cert: provisioning.Certificate, api_key: str) -> dict:
    """What a device needs to connect, shown once: never stored in this form."""
    return {
        "api_key": api_key,
        "certificate_id": cert.certificate_id,
        "certificate_pem": cert.certificate_pem,
        "private_key": cert.private_key,
        "ca_pem": provisioning.ca_pem(),
        "iot_endpoint": provisioning.iot_endpoint(),
        "mqtt_port": provisioning.mqtt_port(),
        "thing_name": thing_name,
        "topics": provisioning.topics_for(thing_name),
    }


def rotate_credentials(caller: Caller, device_id: str) -> dict:
    """A new certificate, key pair and API key; the old ones stop working now.
    A device another cloud provides (gridpulse.devices.external) has none: 409."""
    device = owned(caller, device_id)
    if device.api_key_hash == external.EXTERNAL_KEY_HASH:
        raise Conflict(
            "This device talks to its provider's cloud, not to GridPulse: it has no credentials to rotate.",
            code="no_credentials",
        )
    old_cert = (device.certificate_id, device.certificate_arn)
    old_key_hash = device.api_key_hash
    cert = provisioning.issue_certificate(device.thing_name)
    api_key = new_secret(API_KEY_PREFIX)
    new_hash = secret_hash(api_key)
    with TransactWrite(connection=connection()) as tx:
        tx.update(
            device,
            actions=[
                DeviceItem.certificate_id.set(cert.certificate_id),
                DeviceItem.certificate_arn.set(cert.certificate_arn),
                DeviceItem.api_key_hash.set(new_hash),
                DeviceItem.updated_at.set(iso(utcnow())),
            ],
            condition=DeviceItem.api_key_hash == old_key_hash,
        )
        tx.delete(ApiKeyItem(ApiKeyItem.key(old_key_hash), "apikey"))
        tx.save(ApiKeyItem(ApiKeyItem.key(new_hash), "apikey", device_id=device_id))
    provisioning.revoke_certificate(device.thing_name, *old_cert)
    count("DeviceCredentialsRotated")
    return {
        "device_id": device_id,
        **_credentials(device.thing_name, cert, api_key),
        "revoked_certificate_id": old_cert[0],
    }


# ---------------------------------------------------------------- changes


def update(caller: Caller, device_id: str, changes: dict) -> dict:
    device = owned(caller, device_id)
    actions = [DeviceItem.updated_at.set(iso(utcnow()))]
    counter_delta = 0
    if "name" in changes:
        actions.append(DeviceItem.name.set(changes["name"]))
    if "status" in changes and changes["status"] != device.status:
        actions.append(DeviceItem.status.set(changes["status"]))
        counter_delta = (changes["status"] == "active") - (device.status == "active")
    if "city" in changes:
        city = changes["city"]
        actions += (
            [DeviceItem.city.set(city), DeviceItem.city_key.set(_city_key(city))]
            if city
            else [DeviceItem.city.remove(), DeviceItem.city_key.remove()]
        )
        # Only an admin puts a device into a city's scope (lights are in it by type).
        actions.append(
            DeviceItem.city_scoped.set(True) if city and caller.is_admin else DeviceItem.city_scoped.remove()
        )
    if device.device_type == "light":
        # Every update of a light (re)writes its light-city index key, so a light
        # registered before the index existed joins it on its next update.
        light_city = light_city_of("light", changes["city"] if "city" in changes else device.city)
        actions.append(DeviceItem.light_city.set(light_city) if light_city else DeviceItem.light_city.remove())
    if "room_id" in changes:
        placement = _placement(caller, changes["room_id"]) if changes["room_id"] else {}
        for attr in ("room_id", "section_id", "hotel_id"):
            value = placement.get(attr)
            actions.append(getattr(DeviceItem, attr).set(value) if value else getattr(DeviceItem, attr).remove())
    for field in DESCRIPTIVE_FIELDS:
        if field in changes:
            value = changes[field]
            attr = getattr(DeviceItem, field)
            actions.append(attr.set(value) if value is not None else attr.remove())
    wifi = changes.get("wifi")
    if wifi:
        actions.append(DeviceItem.wifi_ssid.set(wifi["ssid"]))
    with TransactWrite(connection=connection()) as tx:
        tx.update(device, actions=actions, condition=DeviceItem.pk.exists())
        if counter_delta:
            tx.update(DeviceCounterItem(), actions=[DeviceCounterItem.active.add(counter_delta)])
    if wifi:
        # The password goes to the device through its shadow and nowhere else.
        provisioning.set_desired(device.thing_name, {"wifi": {"ssid": wifi["ssid"], "password": wifi["password"]}})
    device.refresh(consistent_read=True)
    return device_view(device, state_by_id(device_id))


def delete(caller: Caller, device_id: str) -> None:
    device = owned(caller, device_id)
    _deprovision(device)


def _deprovision(device: DeviceItem) -> None:
    provisioning.revoke_certificate(device.thing_name, device.certificate_id, device.certificate_arn)
    provisioning.delete_thing(device.thing_name)
    _delete_items(device)
    enqueue_device_cleanup(device.device_id)  # readings, rollups, alerts: in the background
    with TransactWrite(connection=connection()) as tx:
        tx.update(
            DeviceCounterItem(),
            actions=[DeviceCounterItem.total.add(-1)]
            + ([DeviceCounterItem.active.add(-1)] if device.status == "active" else []),
        )
    count("DeviceDeleted")


def _delete_items(device: DeviceItem) -> None:
    """Registry record, state, API key and both sides of every group membership.

    Deletes go through MembershipItem because a delete needs only the key
    (pk, sk), which every item of this table has in the same shape."""
    pk = DeviceItem.key(device.device_id)
    memberships = list(MembershipItem.query(pk, MembershipItem.sk.startswith("group#")))
    with MembershipItem.batch_write() as batch:
        for m in memberships:
            batch.delete(m)
            batch.delete(MembershipItem(m.sk, pk))
        batch.delete(MembershipItem(pk, "state"))
        batch.delete(MembershipItem(ApiKeyItem.key(device.api_key_hash), "apikey"))
        batch.delete(MembershipItem(pk, "meta"))


def delete_all_owned_by(user_id: str) -> int:
    devices = list(DeviceItem.by_owner.query(user_id, DeviceItem.owner_sk.startswith("device#")))
    for device in devices:
        _deprovision(device)
    return len(devices)


def enqueue_device_cleanup(device_id: str) -> None:
    """Queue what a deleted device leaves behind for CleanupFunction (devices/cleanup.py)."""
    client("sqs").send_message(
        QueueUrl=get_settings().cleanup_queue_url, MessageBody=json.dumps({"device_id": device_id})
    )


# ---------------------------------------------------------------- lists


def _index_source(index, hash_value: str, condition=None, filter_condition=None, keep=lambda d: True):
    def query(limit: int, start: dict | None):
        result = index.query(
            hash_value,
            condition,
            filter_condition=filter_condition,
            limit=limit,
            last_evaluated_key=start,
            scan_index_forward=False,
        )
        items = list(intact(result, "device"))
        return items, result.last_evaluated_key

    return f"{index.Meta.index_name}:{hash_value}", query, keep


def _filters(filters: dict):
    condition = None
    for attr, value in (("status", filters.get("status")), ("device_type", filters.get("device_type"))):
        if value:
            term = getattr(DeviceItem, attr) == value
            condition = term if condition is None else condition & term
    return condition


def _assigned_source(caller: Caller, filters: dict):
    """The prepaid meters assigned to the caller (billing assignments, BillingTable's `by-user`
    index: one Query per page, then one BatchGetItem of the devices), those its scope does not
    show already, after its own, hotel and city devices."""
    from gridpulse.billing import data as billing_data

    def query(limit: int, start: dict | None):
        assignments, last_key = billing_data.query_index(
            billing_data.BY_USER_INDEX, "assigned_user_id", caller.user_id, limit, start
        )
        ids = [a["device_id"] for a in assignments if isinstance(a.get("device_id"), str)]
        keys = [(DeviceItem.key(i), "meta") for i in ids]
        found = {d.device_id: d for d in batch_get_intact(DeviceItem, keys, "device")} if keys else {}
        return [found[i] for i in ids if i in found], last_key

    def keep(device: DeviceItem) -> bool:
        return (
            device.device_type == "prepaid_meter"
            and not scope.sees_device(caller, device)
            and (not filters.get("status") or device.status == filters["status"])
        )

    return f"assigned:{caller.user_id}", query, keep


def list_visible(caller: Caller, filters: dict, limit: int, next_token: str | None) -> dict:
    """Devices the caller may see, newest first, with their presence; for a caller that is not
    an admin, then the prepaid meters assigned to it (not with a room or city filter)."""
    cond = _filters(filters)
    if filters.get("room_id"):
        sites.visible_room(caller, filters["room_id"])
        sources = [_index_source(DeviceItem.by_room, filters["room_id"], filter_condition=cond)]
    elif filters.get("city"):
        city = _city_key(filters["city"])
        sources = [
            _index_source(DeviceItem.by_city, city, filter_condition=cond, keep=lambda d: scope.sees_device(caller, d))
        ]
    elif caller.is_admin:
        types = [filters["device_type"]] if filters.get("device_type") else list(DEVICE_TYPES)
        sources = [_index_source(DeviceItem.by_type, t, filter_condition=cond) for t in types]
    else:
        sources = [
            _index_source(
                DeviceItem.by_owner, caller.user_id, DeviceItem.owner_sk.startswith("device#"), filter_condition=cond
            )
        ]
        sources += [
            _index_source(DeviceItem.by_hotel, h, filter_condition=cond, keep=lambda d: d.owner_id != caller.user_id)
            for h in sorted(caller.hotel_ids)
        ]
        sources += [
            _index_source(
                DeviceItem.by_city,
                _city_key(c),
                filter_condition=cond,
                keep=lambda d: (
                    d.owner_id != caller.user_id
                    and not scope.sees_hotel(caller, d.hotel_id)
                    and scope.sees_city(caller, scope.city_scope(d))
                ),
            )
            for c in sorted(caller.cities)
        ]
        if filters.get("device_type") in (None, "prepaid_meter"):
            sources.append(_assigned_source(caller, filters))
    items, token = chained_page(sources, limit, next_token, f"devices:{caller.user_id}")
    views = with_states(items)
    return {"items": views, "count": len(views), "next_token": token}


def list_in_room(caller: Caller, room_id: str, limit: int, next_token: str | None) -> dict:
    sites.visible_room(caller, room_id)
    return list_visible(caller, {"room_id": room_id}, limit, next_token)


def owned_items(
    caller: Caller, user_id: str, limit: int, next_token: str | None
) -> tuple[list[DeviceItem], str | None]:
    """A page of the devices a user owns (self or admin; anyone else: 404)."""
    caller.require_self_or_admin(user_id)
    result = DeviceItem.by_owner.query(
        user_id,
        DeviceItem.owner_sk.startswith("device#"),
        limit=limit,
        last_evaluated_key=decode_token(next_token, f"owned:{user_id}"),
        scan_index_forward=False,
    )
    return list(intact(result, "device")), encode_token(result.last_evaluated_key, f"owned:{user_id}")


def list_owned_by(caller: Caller, user_id: str, limit: int, next_token: str | None) -> dict:
    items, token = owned_items(caller, user_id, limit, next_token)
    views = with_states(items)
    return {"items": views, "count": len(views), "next_token": token}


def statuses(limit: int, next_token: str | None) -> dict:
    """Every device with online/offline, for admins: one Query per device type."""
    sources = [_index_source(DeviceItem.by_type, t) for t in DEVICE_TYPES]
    items, token = chained_page(sources, limit, next_token, "statuses")
    states = states_for(items)
    rows = [status_view(d, states.get(d.device_id)) for d in items]
    return {"items": rows, "count": len(rows), "next_token": token}


# ---------------------------------------------------------------- device-facing (X-API-Key)


def authenticate_device(api_key: str | None) -> DeviceItem:
    """The device whose API key this is; 401 for a missing, wrong or revoked key.
    Two GetItems: the key's hash, then the device record."""
    if not api_key:
        raise Unauthorized("Send X-API-Key: <device API key>.", code="missing_api_key")
    try:
        ref = ApiKeyItem.get(ApiKeyItem.key(secret_hash(api_key.strip())), "apikey")
    except DoesNotExist:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key") from None
    try:
        device = DeviceItem.get(DeviceItem.key(ref.device_id), "meta")
    except DoesNotExist:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key") from None
    if device.api_key_hash != secret_hash(api_key.strip()):
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")
    annotate("device_type", device.device_type)
    return device


def heartbeat(device: DeviceItem, firmware_version: str | None = None) -> dict:
    now = datetime.now(timezone.utc)
    actions = [DeviceStateItem.last_seen.set(iso(now)), DeviceStateItem.last_seen_epoch.set(int(now.timestamp()))]
    if firmware_version:
        actions.append(DeviceStateItem.firmware_version.set(firmware_version))
    state = DeviceStateItem(DeviceItem.key(device.device_id), "state")
    state.update(actions=actions)
    return {"device_id": device.device_id, "last_seen": iso(now), "online": is_online(state)}


MAX_CONFIG_BYTES = 8 * 1024


def report_config(device: DeviceItem, config: dict) -> dict:
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise BadRequest(
            "config is too large",
            code="validation_error",
            fields=[field_error("config", f"at most {MAX_CONFIG_BYTES} bytes of JSON")],
        )
    state = DeviceStateItem(DeviceItem.key(device.device_id), "state")
    state.update(actions=[DeviceStateItem.reported_config.set(config)])
    return {"device_id": device.device_id, "reported_config": config}
