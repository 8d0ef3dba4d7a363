"""Import Powertools' REST resolver without every other resolver it ships.

The `__init__` of `aws_lambda_powertools.event_handler` imports all of its
resolvers (AppSync, AppSync Events, Bedrock agents, VPC Lattice, Lambda
function URLs, ...) and with them asyncio: about 20 ms of CPU at every cold
start of an API function, which only ever uses the API Gateway REST resolver
(`make bench` shows the figure; docs/decisions.md, "Cold start").

`install()` registers the package as a module whose `__init__` has not run.
Importing a submodule (`aws_lambda_powertools.event_handler.api_gateway`,
`.openapi.params`) then loads just that submodule and what it imports; the
package's names that come from api_gateway (Response, the REST resolver, ...)
are taken from there. Asking the package for anything else runs the real
`__init__` first, so code that
does `from aws_lambda_powertools.event_handler import AppSyncResolver` still
works, at the usual cost. gridpulse/__init__.py calls install(), so any
function that imports the shared layer first gets it; our code imports from
the submodules (gridpulse.api re-exports what handlers use).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

PACKAGE = "aws_lambda_powertools.event_handler"
# Names the real __init__ re-exports from api_gateway; Powertools' own modules ask the package
# for some of them (its openapi params module does `from aws_lambda_powertools.event_handler import Response`).
FROM_API_GATEWAY = frozenset(
    {"ALBResolver", "APIGatewayHttpResolver", "ApiGatewayResolver", "APIGatewayRestResolver", "CORSConfig", "Response"}
)


def install() -> None:
    """Register the un-initialised package (no-op once the package is imported)."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)  # has __path__, so submodules import; __init__ not run

    def __getattr__(name: str):
        if name in FROM_API_GATEWAY:
            return getattr(importlib.import_module(f"{PACKAGE}.api_gateway"), name)
        # `from package import submodule` asks the package first: import just that submodule.
        try:
            return importlib.import_module(f"{PACKAGE}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{PACKAGE}.{name}":
                raise
        # A name the real __init__ defines (e.g. AppSyncResolver): run it now, once.
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = __getattr__
    sys.modules[PACKAGE] = package
