"""The forecasts table: every stored day-ahead forecast of a device.

Key (`pk` = `device#<id>`, `sk` = `f#<generated_at epoch ms, 13 digits>#<forecast_id>`):
a device's forecasts are one partition in time order, so the newest is a
Query with ScanIndexForward=false and Limit=1, and the history pages
newest first on the same key. `ttl` (epoch seconds) expires a forecast
RETENTION_DAYS after it was made (the table's TTL attribute).

The forecast itself, as the API shows it (figures as decimal strings), is
one JSON attribute (`body`): it is written once and never updated.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from gridpulse.dynamodb import region, table_name

FORECASTS_TABLE = table_name("FORECASTS_TABLE", "gridpulse-forecasts")
RETENTION_DAYS = 30
PREFIX = "f#"


class ForecastItem(Model):
    class Meta:
        table_name = FORECASTS_TABLE
        region = region()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    device_id = UnicodeAttribute()
    forecast_id = UnicodeAttribute()
    generated_at = UnicodeAttribute()
    method = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of the forecast as the API shows it
    ttl = NumberAttribute()


def device_pk(device_id: str) -> str:
    return f"device#{device_id}"


def forecast_sk(generated_ms: int, forecast_id: str) -> str:
    return f"{PREFIX}{generated_ms:013d}#{forecast_id}"
