"""Evaluate an AWS IoT Core policy document the way IoT Core's authorizer does.

The local MQTT broker (infrastructure/local/iot/broker.py) asks this module the
questions IoT Core asks on every MQTT operation, against the very policy
document template.yaml declares (the `DevicePolicy` resource, resolved by
infrastructure.cfn), so a device that works locally works against IoT Core:

| MQTT operation | action         | resource ARN                                   |
|----------------|----------------|------------------------------------------------|
| CONNECT        | iot:Connect    | arn:aws:iot:<region>:<account>:client/<clientId>   |
| PUBLISH        | iot:Publish    | ...:topic/<topic name>                          |
| SUBSCRIBE      | iot:Subscribe  | ...:topicfilter/<topic filter, literally>       |
| (delivery)     | iot:Receive    | ...:topic/<topic name of each delivered message>|

The rules are IAM's, as IoT Core applies them:

* a request is allowed when an Allow statement matches it and no Deny
  statement does (explicit Deny wins; no match means deny);
* `Action` and `Resource` are a string or a list; `*` matches any run of
  characters (including `/`) and `?` exactly one, in both. MQTT's `+` and `#`
  are NOT wildcards in a policy: `topicfilter/gridpulse/+/commands` in a
  request only matches a policy resource that allows that literal filter (or
  a `*` that covers it). That is why a device cannot subscribe to
  `gridpulse/+/commands` with the device policy;
* policy variables: `${iot:Connection.Thing.ThingName}` (the thing of the
  connection: locally, the CN of the client certificate) and `${iot:ClientId}`
  are substituted literally (a `*` inside a value is not a wildcard);
  `${*}`, `${?}` and `${$}` are IAM's escapes. A resource that uses a
  variable which cannot be resolved (no thing) matches nothing;
* conditions: `Bool` on `iot:Connection.Thing.IsAttached`, true when the
  client certificate is attached to the thing. Locally the broker says a
  certificate is attached to the thing named by its CN when the certificate
  is ACTIVE in the IoT registry.

Anything else (NotAction, NotResource, other condition operators or keys) is
refused when the evaluator is built, so that a policy this module does not
understand can never be evaluated more permissively than IoT Core would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

THING_NAME = "iot:Connection.Thing.ThingName"
CLIENT_ID = "iot:ClientId"
IS_ATTACHED = "iot:connection.thing.isattached"  # condition keys are case-insensitive
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_TOKEN = re.compile(r"\$\{([^}]*)\}|(\*)|(\?)")


class UnsupportedPolicy(ValueError):
    """The document uses a policy feature this evaluator does not implement."""


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _pattern(text: str, variables: dict[str, str]) -> re.Pattern | None:
    """Compile a policy pattern (wildcards, variables) to a regex; None when a
    variable it uses is unknown or unresolved."""
    parts, pos = [], 0
    for match in _TOKEN.finditer(text):
        parts.append(re.escape(text[pos : match.start()]))
        variable, star, question = match.groups()
        if star:
            parts.append(".*")
        elif question:
            parts.append(".")
        elif variable in _ESCAPES:
            parts.append(re.escape(_ESCAPES[variable]))
        elif variables.get(variable) is not None:
            parts.append(re.escape(variables[variable]))
        else:
            return None
        pos = match.end()
    parts.append(re.escape(text[pos:]))
    return re.compile("".join(parts), re.DOTALL)


def _bool_values(value: Any) -> tuple[bool, ...]:
    values = []
    for item in _as_list(value):
        text = str(item).lower()
        if text not in ("true", "false"):
            raise UnsupportedPolicy(f"Bool condition value {item!r} is not true/false")
        values.append(text == "true")
    return tuple(values)


@dataclass(frozen=True)
class _Statement:
    effect: str
    actions: tuple[re.Pattern, ...]  # compiled, lower case (action names are case-insensitive)
    resources: tuple[str, ...]
    attached: tuple[bool, ...] | None  # Bool iot:Connection.Thing.IsAttached, any of these values

    @classmethod
    def parse(cls, raw: dict) -> _Statement:
        unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unknown:
            raise UnsupportedPolicy(f"statement keys not supported: {sorted(unknown)}")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect must be Allow or Deny, not {effect!r}")
        if "Action" not in raw or "Resource" not in raw:
            raise UnsupportedPolicy("a statement needs Action and Resource")
        attached = None
        for operator, keys in (raw.get("Condition") or {}).items():
            if operator != "Bool":
                raise UnsupportedPolicy(f"condition operator {operator!r} not supported")
            for key, value in keys.items():
                if key.lower() != IS_ATTACHED:
                    raise UnsupportedPolicy(f"condition key {key!r} not supported")
                attached = _bool_values(value)
        actions = tuple(_pattern(str(a).lower(), {}) for a in _as_list(raw["Action"]))
        if None in actions:
            raise UnsupportedPolicy("policy variables are not allowed in Action")
        return cls(effect, actions, tuple(_as_list(raw["Resource"])), attached)

    def matches(self, action: str, resource: str, variables: dict[str, str], attached: bool) -> bool:
        if self.attached is not None and attached not in self.attached:
            return False
        if not any(pattern.fullmatch(action) for pattern in self.actions):
            return False
        for text in self.resources:
            pattern = _pattern(text, variables)
            if pattern is not None and pattern.fullmatch(resource):
                return True
        return False


class PolicyEvaluator:
    """Answers "may this connection do this?" for one IoT policy document.

    `document` is the policy as a dict (or its JSON text), e.g. the resolved
    PolicyDocument of template.yaml's DevicePolicy; `region` and `account`
    build the resource ARNs the broker asks about.
    """

    def __init__(self, document: dict | str, region: str, account: str, partition: str = "aws"):
        if isinstance(document, str):
            document = json.loads(document)
        self.document = document
        self.region, self.account, self.partition = region, account, partition
        self._statements = [_Statement.parse(s) for s in _as_list(document.get("Statement") or [])]

    @classmethod
    def from_stack(cls, stack, logical: str = "DevicePolicy") -> PolicyEvaluator:
        """The evaluator for an AWS::IoT::Policy of an infrastructure.cfn.Stack."""
        raw = stack.resources("AWS::IoT::Policy")[logical]["Properties"]["PolicyDocument"]
        return cls(stack.resolve(raw), stack.region, stack.account)

    # ------------------------------------------------------------ ARNs

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{kind}/{name}"

    def client_arn(self, client_id: str) -> str:
        return self._arn("client", client_id)

    def topic_arn(self, topic: str) -> str:
        return self._arn("topic", topic)

    def topicfilter_arn(self, topic_filter: str) -> str:
        return self._arn("topicfilter", topic_filter)

    # ------------------------------------------------------------ decisions

    def allows(
        self,
        action: str,
        resource_arn: str,
        thing_name: str | None,
        *,
        attached: bool = True,
        client_id: str | None = None,
    ) -> bool:
        """True when the policy allows `action` on `resource_arn` for a
        connection whose thing is `thing_name` (None: no thing).

        `attached` is iot:Connection.Thing.IsAttached (always false without a
        thing); `client_id` resolves ${iot:ClientId} where a policy uses it.
        """
        variables = {THING_NAME: thing_name, CLIENT_ID: client_id}
        attached = bool(attached and thing_name)
        action = action.lower()
        decision = False
        for statement in self._statements:
            if statement.matches(action, resource_arn, variables, attached):
                if statement.effect == "Deny":
                    return False
                decision = True
        return decision

    def can_connect(self, client_id: str, thing_name: str | None, attached: bool = True) -> bool:
        return self.allows(
            "iot:Connect", self.client_arn(client_id), thing_name, attached=attached, client_id=client_id
        )

    def can_publish(
        self, topic: str, thing_name: str | None, attached: bool = True, client_id: str | None = None
    ) -> bool:
        return self.allows("iot:Publish", self.topic_arn(topic), thing_name, attached=attached, client_id=client_id)

    def can_subscribe(
        self, topic_filter: str, thing_name: str | None, attached: bool = True, client_id: str | None = None
    ) -> bool:
        return self.allows(
            "iot:Subscribe", self.topicfilter_arn(topic_filter), thing_name, attached=attached, client_id=client_id
        )

    def can_receive(
        self, topic: str, thing_name: str | None, attached: bool = True, client_id: str | None = None
    ) -> bool:
        return self.allows("iot:Receive", self.topic_arn(topic), thing_name, attached=attached, client_id=client_id)
