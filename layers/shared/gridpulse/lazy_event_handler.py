"""Import Powertools' REST resolver without every other resolver and event class it ships.

The `__init__` of `aws_lambda_powertools.event_handler` imports all of its
resolvers (AppSync, AppSync Events, Bedrock agents, VPC Lattice, Lambda
function URLs, ...) and with them asyncio: about 20 ms of CPU at every cold
start of an API function, which only ever uses the API Gateway REST resolver.
The REST resolver's module in turn imports seven event classes from
`aws_lambda_powertools.utilities.data_classes`, whose `__init__` imports all of
its forty-odd event modules (Kafka, Kinesis, S3, SES, CodePipeline, ...):
another 10-15 ms (`make bench` shows the figures; docs/decisions.md, "Cold
start").

`install()` registers both packages as modules whose `__init__` has not run.
Importing a submodule (`aws_lambda_powertools.event_handler.api_gateway`,
`.openapi.params`, `...data_classes.common`) then loads just that submodule
and what it imports. The names the REST resolver needs from a package are
taken from the submodule that defines them (`Response` and the resolvers from
api_gateway, `APIGatewayProxyEvent` from api_gateway_proxy_event, ...).
Asking a package for anything else runs its real `__init__` first, so code
that does `from aws_lambda_powertools.event_handler import AppSyncResolver` or
`from aws_lambda_powertools.utilities.data_classes import SQSEvent` still
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

DATA_CLASSES = "aws_lambda_powertools.utilities.data_classes"
# The event classes api_gateway imports from the data_classes package, and the submodule defining each.
DATA_CLASSES_FOR_API_GATEWAY = {
    "ALBEvent": "alb_event",
    "APIGatewayProxyEvent": "api_gateway_proxy_event",
    "APIGatewayProxyEventV2": "api_gateway_proxy_event",
    "BedrockAgentEvent": "bedrock_agent_event",
    "LambdaFunctionUrlEvent": "lambda_function_url_event",
    "VPCLatticeEvent": "vpc_lattice",
    "VPCLatticeEventV2": "vpc_lattice",
}


def install() -> None:
    """Register both un-initialised packages (each a no-op once that package is imported)."""
    _lazy(PACKAGE, dict.fromkeys(FROM_API_GATEWAY, "api_gateway"), submodules_by_name=True)
    # Not submodules by name here: the data_classes package binds `event_source` to a function that
    # shadows its submodule of that name.
    _lazy(DATA_CLASSES, DATA_CLASSES_FOR_API_GATEWAY, submodules_by_name=False)


def _lazy(name: str, defined_in: dict[str, str], submodules_by_name: bool) -> None:
    """Register package `name` without running its `__init__`: the names in `defined_in` come from
    the submodule given for each; with `submodules_by_name`, `from package import submodule` imports
    just that submodule; any other name runs the real `__init__` once and is then taken from it."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # imports the parent packages
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)  # has __path__, so submodules import; __init__ not run

    def __getattr__(attr: str):
        if attr in defined_in:
            return getattr(importlib.import_module(f"{name}.{defined_in[attr]}"), attr)
        if submodules_by_name:
            # `from package import submodule` asks the package first: import just that submodule.
            try:
                return importlib.import_module(f"{name}.{attr}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{name}.{attr}":
                    raise
        # A name the real __init__ defines (e.g. AppSyncResolver): run it now, once.
        if "__getattr__" not in package.__dict__:  # already ran, and the name is not there
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        return getattr(package, attr)

    package.__getattr__ = __getattr__
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, package)
