"""The Tuya Cloud OpenAPI client: signing, the shared token, retries, error mapping
(`client`, `signing`, `tokens`, `errors`) and a meter's data-point scaling (`spec`)."""

from gridpulse.billing.tuya.errors import TuyaAuthError, TuyaError, TuyaRejected, TuyaUnavailable
from gridpulse.billing.tuya.spec import MeterSpec

__all__ = ["MeterSpec", "TuyaAuthError", "TuyaError", "TuyaRejected", "TuyaUnavailable"]
