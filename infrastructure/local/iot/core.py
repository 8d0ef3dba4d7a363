"""AWS IoT Core on the laptop: the local CA, the MQTT broker and the rules engine.

* Device certificates: provisioning (gridpulse.devices.provisioning) normally asks
  IoT to create a key pair and certificate. Locally the certificate is issued
  by the local CA (so the broker can verify it) and registered in moto's IoT
  registry, which then holds its status (ACTIVE, REVOKED) exactly as IoT would;
  everything else in provisioning (thing, policy, principal) is unchanged.
* The broker (infrastructure/local/iot/broker.py) authorises with the DevicePolicy
  of template.yaml and refuses certificates the registry does not list as
  ACTIVE and attached to their thing, at CONNECT and every few seconds while
  connected; provisioning's disconnector (IoT's DeleteConnection in AWS) is
  the broker's disconnect. So deleting a device or rotating its credentials
  ends the old session at once and locks the old certificate out. The
  principal the rules see (principal()) is the registry's certificate id,
  the one the device record keeps.
* The rules engine (infrastructure/local/iot/rules.py) sees every accepted message
  and runs the template's topic rules against the same handler code.
* The Device Shadow service (infrastructure/local/iot/shadow.py): one store
  that the broker serves the shadow MQTT topics from and that moto's server
  answers the iot-data shadow API from (the local stack passes the same
  `ShadowService` to both), so a desired state written by a Lambda reaches a
  connected device as a delta and a device's report is what the API reads.
"""

from __future__ import annotations

import os
import pathlib
import threading

import boto3

from gridpulse.devices import messaging, provisioning
from infrastructure.cfn import Stack
from infrastructure.local.iot.broker import LocalBroker
from infrastructure.local.iot.ca import LocalCA, certificate_id, common_name
from infrastructure.local.iot.policy import PolicyEvaluator
from infrastructure.local.iot.rules import RuleRunner
from infrastructure.local.iot.shadow import ShadowService


class LocalIoT:
    def __init__(
        self,
        stack: Stack,
        functions: dict,
        directory: pathlib.Path,
        port: int,
        session: boto3.session.Session,
        log=None,
        sock=None,
        events=None,
        shadows: ShadowService | None = None,
    ):
        self.stack = stack
        self.shadows = shadows or ShadowService()
        self.ca = LocalCA(directory)
        self.iot = session.client("iot")
        self._registry_ids: dict[str, str] = {}  # our certificate id (DER SHA-256) -> moto's id
        self._lock = threading.Lock()
        self.rules = RuleRunner(stack, functions, events=events, log=log)
        self.broker = LocalBroker(
            "127.0.0.1",
            port,
            self.ca,
            PolicyEvaluator.from_stack(stack),
            cert_is_active=self.cert_is_active,
            on_publish=self.rules.on_publish,
            principal_of=self.principal_of,
            sock=sock,
            shadow=self.shadows,
        )

    # ------------------------------------------------------------ certificates

    def issue(self, thing_name: str) -> provisioning.Certificate:
        cert_pem, key_pem = self.ca.issue_device_certificate(thing_name)
        registered = self.iot.register_certificate_without_ca(certificatePem=cert_pem, status="ACTIVE")
        with self._lock:
            self._registry_ids[certificate_id(cert_pem)] = registered["certificateId"]
        return provisioning.Certificate(
            certificate_id=registered["certificateId"],
            certificate_arn=registered["certificateArn"],
            certificate_pem=cert_pem,
            private_key=key_pem,
        )

    def principal_of(self, cert_pem: str) -> str:
        """The certificate id IoT gave this certificate (what principal() returns)."""
        with self._lock:
            return self._registry_ids.get(certificate_id(cert_pem), certificate_id(cert_pem))

    def cert_is_active(self, cert_pem: str) -> bool:
        """ACTIVE in the registry and still attached to the thing its CN names."""
        with self._lock:
            registry_id = self._registry_ids.get(certificate_id(cert_pem))
        if registry_id is None:
            return False
        try:
            description = self.iot.describe_certificate(certificateId=registry_id)["certificateDescription"]
        except self.iot.exceptions.ResourceNotFoundException:
            return False
        if description["status"] != "ACTIVE":
            return False
        thing_name = common_name(cert_pem)
        try:
            things = self.iot.list_principal_things(principal=description["certificateArn"])["things"]
        except self.iot.exceptions.ResourceNotFoundException:
            return False
        return thing_name in things

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Route provisioning to the local CA and open the broker."""
        provisioning.certificate_issuer = self.issue
        messaging.publisher = lambda topic, payload, qos: self.broker.publish(topic, payload, qos)
        provisioning.disconnector = self.broker.disconnect
        os.environ["DEVICE_CA_PEM_PATH"] = str(self.ca.cert_path)
        os.environ["IOT_ENDPOINT_ADDRESS"] = "127.0.0.1"
        self.broker.start()
        self.shadows.publish = lambda topic, payload: self.broker.publish_nowait(topic, payload, 1)
        os.environ["IOT_MQTT_PORT"] = str(self.broker.port)
        provisioning.iot_endpoint.cache_clear()

    def stop(self) -> None:
        self.shadows.publish = None
        self.broker.stop()
        self.rules.stop()
