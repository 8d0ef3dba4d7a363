"""template.yaml evaluated for the benchmarks, and the environment a function sees.

Same approach as tests/conftest.py `_predicted_environment`: table names are
known from the template alone; other resources (the secret ARN, the API id)
get placeholders until the resources exist. That is enough to import a
handler, which reads table names at import and everything else lazily.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from infrastructure.cfn import Stack, load
from infrastructure.local.resources import table_request

STACK_NAME = "gridpulse-bench"
PUBLIC_URL = "http://testserver"
TEMPLATE = load()

# Every benchmark process (the parent and each child interpreter) runs with these,
# so that modules import and run without an AWS account, X-Ray or CloudWatch.
PROCESS_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def new_stack(template: dict = TEMPLATE) -> Stack:
    return Stack(template, name=STACK_NAME, parameters={"PublicUrl": PUBLIC_URL})


def predicted_stack(template: dict = TEMPLATE) -> Stack:
    """A stack whose !Ref values are known before anything is created (of this
    checkout's template, or of another revision's)."""
    stack = new_stack(template)
    for logical in stack.resources("AWS::DynamoDB::Table"):
        stack.physical[logical] = table_request(stack, logical)["TableName"]
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"pending-{logical}")
    return stack


def configure_environment() -> None:
    """This process's AWS settings for moto, as tests/conftest.py sets them."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(var, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **PROCESS_ENV})


def reset_caches() -> None:
    """Forget settings, signing key, clients and device contexts (the tests' `_reset_caches`)."""
    from gridpulse.aws import reset_clients
    from gridpulse.devices.context import forget_context
    from gridpulse.security.secrets import jwt_signing_key
    from gridpulse.settings import get_settings

    get_settings.cache_clear()
    jwt_signing_key.cache_clear()
    reset_clients()
    forget_context()


@contextlib.contextmanager
def mocked_stack() -> Iterator[Stack]:
    """moto's `mock_aws` with the template's tables, queues, secret and mail
    identity created as the tests' `aws` fixture does, and this process's
    environment set to what the functions see. TransactWriteItems roll back
    item by item as in the local stack (infrastructure/local/moto_transactions.py)."""
    configure_environment()
    import boto3
    from moto import mock_aws

    from infrastructure.local import moto_transactions

    moto_transactions.install()

    from infrastructure.local.resources import create_all, function_environment

    with mock_aws():
        stack = new_stack()
        create_all(stack, boto3.session.Session())
        # Set before any gridpulse module is imported: models read table names at import.
        os.environ.update(function_environment(stack))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the template says INFO; keep logs out of the tables
        reset_caches()
        try:
            yield stack
        finally:
            reset_caches()
