"""The groups' items of the devices table (its layout: gridpulse/devices/data.py).

| item       | pk            | sk            | indexed by |
|------------|---------------|---------------|------------|
| group      | `group#<id>`  | `meta`        | by-owner   |
| membership | `group#<id>`  | `device#<id>` | -  (and its mirror below) |
| membership | `device#<id>` | `group#<id>`  | -          |
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from gridpulse.devices.data import DevicesTableMeta
from gridpulse.dynamodb import gsi


class GroupItem(Model):
    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="meta")
    group_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    owner_sk = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    color = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_owner = gsi("by-owner", "owner_id", "owner_sk")

    @staticmethod
    def key(group_id: str) -> str:
        return f"group#{group_id}"


class MembershipItem(Model):
    """One side of a group membership (both sides are written together)."""

    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    added_at = UnicodeAttribute()
