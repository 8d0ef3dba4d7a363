"""Per-IP rate limits of the local gateway: the WAF web ACL of template.yaml
(`ApiWebAcl`), enforced in process.

Off by default (the fleet, the tests and the fuzzer would be throttled); the
local stack turns it on with GRIDPULSE_RATE_LIMIT=1. The limits are the
template's parameters, so both places agree: `ApiBurstLimitPerMinute` requests
per IP in any 60 s and `ApiRateLimitPer10Minutes` in any 600 s (WAF's longest
window; docs/operations.md, "Rate limits"). Like the web ACL's scope-down
statement, requests that carry an X-API-Key to a device route (the device API,
POST .../telemetry, a light's status report) are not counted: many devices of
a hotel share one address. A request over a limit is answered 429 with
Retry-After, the seconds until the oldest counted request leaves the window
(WAF answers with the window's length).

WAF counts over a sliding window that it re-evaluates every few seconds; this
keeps the time of each request in the window, which is exact.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from threading import Lock

from infrastructure.cfn import Stack

ENV_VARIABLE = "GRIDPULSE_RATE_LIMIT"


def is_device_request(path: str, headers: Mapping[str, str]) -> bool:
    """The web ACL's exemption: an X-API-Key on a device route."""
    if not any(k.lower() == "x-api-key" and v for k, v in headers.items()):
        return False
    path = path.lower()
    return "/device/" in path or path.endswith("/telemetry") or path.endswith("/status")


@dataclass
class RateLimiter:
    """Sliding-window limits per client address: (requests, window seconds) pairs."""

    limits: list[tuple[int, int]]
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    @classmethod
    def from_template(cls, stack: Stack, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        return cls(
            [
                (int(stack.parameters["ApiBurstLimitPerMinute"]), 60),
                (int(stack.parameters["ApiRateLimitPer10Minutes"]), 600),
            ],
            clock,
        )

    def check(self, address: str, path: str, headers: Mapping[str, str]) -> int | None:
        """Count the request; None if it may pass, else the seconds to wait (Retry-After)."""
        if is_device_request(path, headers):
            return None
        longest = max(window for _, window in self.limits)
        with self._lock:
            now = self.clock()
            seen = self._seen.setdefault(address, deque())
            while seen and seen[0] <= now - longest:
                seen.popleft()
            waits = []
            for limit, window in self.limits:
                inside = [t for t in seen if t > now - window]
                if len(inside) >= limit:
                    waits.append(inside[len(inside) - limit] + window - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            seen.append(now)
            return None
