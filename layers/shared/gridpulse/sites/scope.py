"""Who may see and change what: roles and scope.

* admin: everything.
* operator: manages what is in its scope (its hotels, its cities).
* viewer: reads what is in its scope.
* Everyone: the devices it owns (and, with billing, is assigned to).

City scope covers a city's lights and what an admin placed in that city
(`city_scope`); the `city` an owner gives its own meter describes where it
is and exposes it to nobody.

Outside its scope an object does not exist for the caller: 404, never 403,
so that ids cannot be probed. Inside its scope but without the right role:
403.
"""

from __future__ import annotations

from gridpulse.accounts.roles import Caller, Role
from gridpulse.errors import Forbidden, NotFound


def sees_hotel(caller: Caller, hotel_id: str | None) -> bool:
    return caller.is_admin or (hotel_id is not None and hotel_id in caller.hotel_ids)


def sees_city(caller: Caller, city: str | None) -> bool:
    return caller.is_admin or (city is not None and city.strip().lower() in {c.lower() for c in caller.cities})


def manages_hotel(caller: Caller, hotel_id: str | None) -> bool:
    return caller.is_admin or (caller.role is Role.operator and sees_hotel(caller, hotel_id))


def require_hotel_visible(caller: Caller, hotel_id: str | None, what: str = "hotel") -> None:
    if not sees_hotel(caller, hotel_id):
        raise NotFound(f"No such {what}.", code=f"{what}_not_found")


def require_hotel_managed(caller: Caller, hotel_id: str | None, what: str = "hotel") -> None:
    """404 outside scope, 403 in scope without the operator role."""
    require_hotel_visible(caller, hotel_id, what)
    if not manages_hotel(caller, hotel_id):
        raise Forbidden("Your role does not allow changes here.", code="forbidden")


def city_scope(device) -> str | None:
    """The city whose staff see this device (or its alerts): a light's city, or
    the city an admin set; None for a city its owner set on any other device."""
    if device.city and (device.device_type == "light" or device.city_scoped):
        return device.city
    return None


def sees_device(caller: Caller, device) -> bool:
    return (
        caller.is_admin
        or device.owner_id == caller.user_id
        or sees_hotel(caller, device.hotel_id)
        or sees_city(caller, city_scope(device))
    )


def owns_device(caller: Caller, device) -> bool:
    return caller.is_admin or device.owner_id == caller.user_id
