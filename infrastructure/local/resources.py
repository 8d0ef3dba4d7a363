"""Create the template's data resources in an AWS endpoint (moto, locally).

Used by the local stack (against moto in server mode) and by the tests (under
moto's mock_aws), so both get exactly the tables, indexes, TTLs, secrets and
mail identities that template.yaml declares.
"""

from __future__ import annotations

import json
import secrets
import string

import boto3

from infrastructure.cfn import Stack

_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
)


def table_request(stack: Stack, logical: str) -> dict:
    """The CreateTable request for an AWS::DynamoDB::Table resource."""
    props = stack.resolve(stack.resources("AWS::DynamoDB::Table")[logical]["Properties"])
    request = {k: props[k] for k in _TABLE_KEYS if k in props}
    request["TableName"] = props.get("TableName") or f"{stack.name}-{logical}"
    request["BillingMode"] = props.get("BillingMode", "PROVISIONED")
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    return request


def create_tables(stack: Stack, session: boto3.session.Session) -> dict[str, str]:
    dynamodb = session.client("dynamodb")
    names = {}
    for logical, res in stack.resources("AWS::DynamoDB::Table").items():
        request = table_request(stack, logical)
        dynamodb.create_table(**request)
        ttl = res["Properties"].get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=request["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        stack.physical[logical] = request["TableName"]
        stack.attributes[(logical, "Arn")] = (
            f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{request['TableName']}"
        )
        names[logical] = request["TableName"]
    return names


def create_secrets(stack: Stack, session: boto3.session.Session) -> None:
    client = session.client("secretsmanager")
    for logical, res in stack.resources("AWS::SecretsManager::Secret").items():
        props = stack.resolve(res["Properties"])
        generate = props.get("GenerateSecretString") or {}
        alphabet = string.ascii_letters + string.digits
        if not generate.get("ExcludePunctuation"):
            alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
        value = props.get("SecretString") or "".join(
            secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32)))
        )
        if generate.get("SecretStringTemplate") and generate.get("GenerateStringKey"):  # JSON with one generated key
            value = json.dumps({**json.loads(generate["SecretStringTemplate"]), generate["GenerateStringKey"]: value})
        arn = client.create_secret(Name=props["Name"], SecretString=value)["ARN"]
        stack.physical[logical] = arn


def create_mail_identities(stack: Stack, session: boto3.session.Session) -> None:
    ses = session.client("ses")
    for logical, res in stack.resources("AWS::SES::EmailIdentity").items():
        identity = stack.resolve(res["Properties"]["EmailIdentity"])
        ses.verify_email_identity(EmailAddress=identity)
        stack.physical[logical] = identity


def create_iot_policies(stack: Stack, session: boto3.session.Session) -> None:
    iot = session.client("iot")
    for logical, res in stack.resources("AWS::IoT::Policy").items():
        props = stack.resolve(res["Properties"])
        iot.create_policy(policyName=props["PolicyName"], policyDocument=json.dumps(props["PolicyDocument"]))
        stack.physical[logical] = props["PolicyName"]


def create_queues(stack: Stack, session: boto3.session.Session) -> None:
    sqs = session.client("sqs")
    for logical, res in stack.resources("AWS::SQS::Queue").items():
        name = stack.resolve(res["Properties"].get("QueueName") or f"{stack.name}-{logical}")
        stack.physical[logical] = sqs.create_queue(QueueName=name)["QueueUrl"]
        stack.attributes[(logical, "Arn")] = f"arn:aws:sqs:{stack.region}:{stack.account}:{name}"


def register_compute(stack: Stack) -> None:
    """Names and ARNs of what runs in-process locally (functions, roles, the API)."""
    for logical in stack.resources("AWS::Serverless::Api"):
        stack.physical[logical] = "local"  # the API id; served by infrastructure/local/gateway.py
    for logical, res in stack.functions().items():
        name = stack.resolve(res["Properties"].get("FunctionName", logical))
        stack.physical[logical] = name
        stack.attributes[(logical, "Arn")] = f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}"
    for logical in stack.resources("AWS::IAM::Role"):
        stack.physical[logical] = f"{stack.name}-{logical}"
        stack.attributes[(logical, "Arn")] = f"arn:aws:iam::{stack.account}:role/{stack.name}-{logical}"
    for logical in stack.resources("AWS::IoT::TopicRule"):
        stack.physical[logical] = f"{stack.name}_{logical}".replace("-", "_")
        stack.attributes[(logical, "Arn")] = (
            f"arn:aws:iot:{stack.region}:{stack.account}:rule/{stack.physical[logical]}"
        )


def create_topics(stack: Stack, session: boto3.session.Session) -> None:
    sns = session.client("sns")
    for logical, res in stack.resources("AWS::SNS::Topic").items():
        name = stack.resolve(res["Properties"].get("TopicName") or f"{stack.name}-{logical}")
        stack.physical[logical] = sns.create_topic(Name=name)["TopicArn"]


def create_all(stack: Stack, session: boto3.session.Session) -> None:
    """Create every data resource of the template, in dependency order."""
    create_tables(stack, session)
    register_compute(stack)
    create_queues(stack, session)
    create_topics(stack, session)
    create_secrets(stack, session)
    create_mail_identities(stack, session)
    create_iot_policies(stack, session)


def function_environment(stack: Stack) -> dict[str, str]:
    """The union of every function's environment, checked for conflicts.

    The local gateway runs all handlers in one process, so they share one
    environment; two functions that set one variable differently would make
    that impossible, and the check says so instead of picking one silently.
    """
    merged: dict[str, str] = {}
    for logical in stack.functions():
        for key, value in stack.function_environment(logical).items():
            if key in merged and merged[key] != value:
                raise ValueError(f"{logical} sets {key}={value!r}, another function {merged[key]!r}")
            merged[key] = value
    return merged
