"""GridPulse shared layer: domain logic, data access, auth and observability.

Handlers in functions/ stay thin and call into this package. Nothing here needs
AWS to import; AWS clients are created lazily, once per container.
"""

__version__ = "0.1.0"
