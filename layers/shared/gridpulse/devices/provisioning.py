"""Device identities in AWS IoT Core: thing, certificate, policy, shadow.

Provisioning a device makes a thing named after it, an X.509 certificate and
key pair created by IoT (handed back once, never stored), attaches the
certificate exclusively to that thing and attaches the device policy from
template.yaml, which lets a connection act only as its own thing and only on
its own topics. Revoking first takes the certificate's rights away (policy
and thing detached), then marks it REVOKED (it can never be re-activated),
then ends its live MQTT session: IoT Core does not close the sessions of a
revoked certificate by itself (or only after a while), so the platform asks
for it (DeleteConnection on the thing's client id). The certificate record
stays in IoT as proof. Ingestion also refuses messages whose principal is no
longer the device's certificate (gridpulse.telemetry.pipeline), for what was
in flight.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
from dataclasses import dataclass
from typing import Callable

from botocore.exceptions import ClientError

from gridpulse.aws import client
from gridpulse.observability import logger

AMAZON_ROOT_CA = (pathlib.Path(__file__).parent / "AmazonRootCA1.pem").read_text()
TOPIC_PREFIX = "gridpulse"


THING_PREFIX = "gp-"


def thing_name_for(device_id: str) -> str:
    return f"{THING_PREFIX}{device_id}"


def device_id_for(thing_name: str) -> str | None:
    """The device id inside a thing name, or None for a thing that is not ours."""
    if not thing_name.startswith(THING_PREFIX) or len(thing_name) <= len(THING_PREFIX):
        return None
    return thing_name[len(THING_PREFIX) :]


def topics_for(thing_name: str) -> dict[str, str]:
    return {
        "telemetry": f"{TOPIC_PREFIX}/{thing_name}/telemetry",
        "status": f"{TOPIC_PREFIX}/{thing_name}/status",
        "commands": f"{TOPIC_PREFIX}/{thing_name}/commands",
        "shadow_update": f"$aws/things/{thing_name}/shadow/update",
        "shadow_get": f"$aws/things/{thing_name}/shadow/get",
        "shadow_delta": f"$aws/things/{thing_name}/shadow/update/delta",
    }


@dataclass(frozen=True)
class Certificate:
    certificate_id: str
    certificate_arn: str
    certificate_pem: str
    private_key: str


@functools.cache
def iot_endpoint() -> str:
    """The device data endpoint (IOT_ENDPOINT_ADDRESS overrides it, for the local broker)."""
    return (
        os.environ.get("IOT_ENDPOINT_ADDRESS")
        or client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    )


def mqtt_port() -> int:
    return int(os.environ.get("IOT_MQTT_PORT", "8883"))


def ca_pem() -> str:
    """The CA a device must trust to verify the broker (overridable for the local broker)."""
    path = os.environ.get("DEVICE_CA_PEM_PATH")
    return pathlib.Path(path).read_text() if path else AMAZON_ROOT_CA


def _policy_name() -> str:
    return os.environ["DEVICE_POLICY_NAME"]


def _iot_created_certificate(thing_name: str) -> Certificate:
    """AWS IoT creates the key pair and certificate (signed by AWS's CA)."""
    created = client("iot").create_keys_and_certificate(setAsActive=True)
    return Certificate(
        certificate_id=created["certificateId"],
        certificate_arn=created["certificateArn"],
        certificate_pem=created["certificatePem"],
        private_key=created["keyPair"]["PrivateKey"],
    )


# Who makes device certificates. In AWS: IoT itself. The local stack swaps in
# its own CA (infrastructure/local/iot/ca.py) so that its MQTT broker can verify
# the certificates; the rest of provisioning is the same code.
certificate_issuer: Callable[[str], Certificate] = _iot_created_certificate


def issue_certificate(thing_name: str) -> Certificate:
    """A new active certificate attached to the thing and the device policy."""
    iot = client("iot")
    cert = certificate_issuer(thing_name)
    try:
        iot.attach_policy(policyName=_policy_name(), target=cert.certificate_arn)
        iot.attach_thing_principal(
            thingName=thing_name, principal=cert.certificate_arn, thingPrincipalType="EXCLUSIVE_THING"
        )
    except ClientError:
        revoke_certificate(thing_name, cert.certificate_id, cert.certificate_arn)
        raise
    return cert


def create_thing(thing_name: str, device_id: str, device_type: str) -> None:
    client("iot").create_thing(
        thingName=thing_name,
        attributePayload={"attributes": {"device_id": device_id, "device_type": device_type}},
    )


def _delete_connection(client_id: str) -> None:
    """End the live MQTT session of a client id (the IoT data plane's
    DeleteConnection), without its last will; nothing to do if it is offline."""
    try:
        client("iot-data").delete_connection(clientId=client_id, cleanSession=True, preventWillMessage=True)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


# Who ends a client's MQTT session. In AWS: the data plane's DeleteConnection.
# The local stack swaps in its broker's disconnect (infrastructure/local/iot/core.py).
disconnector: Callable[[str], None] = _delete_connection


def revoke_certificate(thing_name: str, certificate_id: str | None, certificate_arn: str | None) -> None:
    """Detached from the policy and the thing, REVOKED, and its session ended.

    The rights go first, so that a live session can do nothing more while the
    rest happens. Each step tolerates having been done already, so a retried
    delete finishes the job. Ending the session is best effort (logged): the
    certificate is revoked either way and ingestion refuses what it sends.
    """
    if not certificate_id or not certificate_arn:
        return
    iot = client("iot")
    steps = [
        lambda: iot.detach_policy(policyName=_policy_name(), target=certificate_arn),
        lambda: iot.detach_thing_principal(thingName=thing_name, principal=certificate_arn),
        lambda: iot.update_certificate(certificateId=certificate_id, newStatus="REVOKED"),
    ]
    for step in steps:
        try:
            step()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "InvalidRequestException"):
                raise
            logger.info("certificate cleanup step skipped", extra={"reason": exc.response["Error"]["Code"]})
    try:
        disconnector(thing_name)  # the policy makes the thing name the only client id it may use
    except Exception:
        logger.exception("the revoked certificate's session was not ended", extra={"thing_name": thing_name})


def delete_thing(thing_name: str) -> None:
    try:
        client("iot").delete_thing(thingName=thing_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def set_desired(thing_name: str, desired: dict) -> None:
    """Merge `desired` into the thing's shadow; the device gets the delta."""
    client("iot-data").update_thing_shadow(
        thingName=thing_name, payload=json.dumps({"state": {"desired": desired}}).encode()
    )


SHADOW_WRITE_ATTEMPTS = 5


def set_desired_if_newer(thing_name: str, key: str, desired: dict, seq: int) -> bool:
    """Write `desired` under desired.<key> unless the shadow already holds a
    newer one (its `seq` at least `seq`): read the shadow, then update it
    with the version read (optimistic locking: IoT answers 409 when another
    writer came in between, and this tries again). False when a newer
    desired state is already there (this one is superseded)."""
    iot_data = client("iot-data")
    for _ in range(SHADOW_WRITE_ATTEMPTS):
        request: dict = {"state": {"desired": {key: desired}}}
        try:
            document = json.loads(iot_data.get_thing_shadow(thingName=thing_name)["payload"].read())
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        else:
            current = ((document.get("state") or {}).get("desired") or {}).get(key)
            if isinstance(current, dict) and isinstance(current.get("seq"), int) and current["seq"] >= seq:
                return False
            request["version"] = document["version"]
        try:
            iot_data.update_thing_shadow(thingName=thing_name, payload=json.dumps(request).encode())
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
    raise ClientError(
        {"Error": {"Code": "ConflictException", "Message": "the shadow kept changing"}}, "UpdateThingShadow"
    )
