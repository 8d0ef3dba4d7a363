"""The sites table: hotels -> sections (floors) -> rooms.

Key `pk` = `<kind>#<id>`, so any node is one GetItem by its id. Every node
also carries `parent` and `child_sk`, the keys of the `children` index:

| node    | pk                 | parent              | child_sk                    |
|---------|--------------------|---------------------|-----------------------------|
| hotel   | `hotel#<id>`       | `hotels`            | `<hotel name>#<id>`         |
| section | `section#<id>`     | `hotel#<hotel_id>`  | `<section name>#<id>`       |
| room    | `room#<id>`        | `section#<sec_id>`  | `<room number>#<id>`        |

so "the sections of a hotel" and "the rooms of a section" are one Query each,
sorted by name/number. Sections and rooms keep `hotel_id` for scope checks.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from gridpulse.dynamodb import gsi, region, table_name

SITES_TABLE = table_name("SITES_TABLE", "gridpulse-sites")

# The values of RoomItem.occupancy_status (the API's Occupancy is derived from it).
OCCUPANCY = ("vacant", "occupied", "reserved", "maintenance")


class SiteNode(Model):
    """Attributes every node has."""

    class Meta:
        table_name = SITES_TABLE
        region = region()

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    parent = UnicodeAttribute()
    child_sk = UnicodeAttribute()
    hotel_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class HotelItem(SiteNode):
    children = gsi("children", "parent", "child_sk")
    hotel_name = UnicodeAttribute()
    address = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(default="UTC")


class SectionItem(SiteNode):
    children = gsi("children", "parent", "child_sk")
    section_id = UnicodeAttribute()
    section_name = UnicodeAttribute()


class RoomItem(SiteNode):
    children = gsi("children", "parent", "child_sk")
    room_id = UnicodeAttribute()
    section_id = UnicodeAttribute()
    room_number = UnicodeAttribute()
    occupancy_status = UnicodeAttribute(default="vacant")


def key(kind: str, node_id: str) -> str:
    return f"{kind}#{node_id}"


def sort_key(label: str, node_id: str) -> str:
    return f"{label.strip().lower()}#{node_id}"
