"""Prepaid billing of Tuya Cloud meters (issue #13). `gridpulse.billing.tuya` is the Tuya OpenAPI client."""
