"""GridPulse shared layer: domain logic, data access, auth and observability.

Handlers in functions/ stay thin and call into this package. Nothing here needs
AWS to import; AWS clients are created lazily, once per container.
"""

__version__ = "0.1.0"

# In Lambda, no garbage collection while the function's modules load (gridpulse/gc_pause.py).
from gridpulse import gc_pause as _gc_pause  # noqa: E402

_gc_pause.pause()

# Before anything imports Powertools' event handler: load only the resolver and event classes we use
# (gridpulse/lazy_event_handler.py explains why and how).
from gridpulse import lazy_event_handler as _lazy_event_handler  # noqa: E402

_lazy_event_handler.install()
