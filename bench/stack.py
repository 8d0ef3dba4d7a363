"""template.yaml evaluated for the benchmarks, and the environment a function sees.

Same approach as tests/conftest.py `_predicted_environment`: table names are
known from the template alone; other resources (the secret ARN, the API id)
get placeholders until the resources exist. That is enough to import a
handler, which reads table names at import and everything else lazily.
"""
from __future__ import annotations

from infrastructure.cfn import Stack, load
from infrastructure.local.resources import table_request

STACK_NAME = "gridpulse-bench"
PUBLIC_URL = "http://testserver"
TEMPLATE = load()

# Every benchmark process (the parent and each child interpreter) runs with these,
# so that modules import and run without an AWS account, X-Ray or CloudWatch,
# and forgot-password answers without padding its response time.
PROCESS_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "FORGOT_PASSWORD_FLOOR_MS": "0",
}


def new_stack() -> Stack:
    return Stack(TEMPLATE, name=STACK_NAME, parameters={"PublicUrl": PUBLIC_URL})


def predicted_stack() -> Stack:
    """A stack whose !Ref values are known before anything is created."""
    stack = new_stack()
    for logical in stack.resources("AWS::DynamoDB::Table"):
        stack.physical[logical] = table_request(stack, logical)["TableName"]
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"pending-{logical}")
    return stack
