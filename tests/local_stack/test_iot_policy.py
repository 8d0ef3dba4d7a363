"""The IoT policy evaluator, against the real DevicePolicy of template.yaml and
against small documents for the IAM rules it implements."""

from __future__ import annotations

import json

import pytest

from infrastructure.cfn import Stack, load
from infrastructure.local.iot.policy import PolicyEvaluator, UnsupportedPolicy

REGION, ACCOUNT = "eu-west-1", "111122223333"


@pytest.fixture(scope="module")
def policy() -> PolicyEvaluator:
    stack = Stack(load(), region=REGION, account=ACCOUNT)
    document = stack.resolve(stack.resources("AWS::IoT::Policy")["DevicePolicy"]["Properties"]["PolicyDocument"])
    assert "${iot:Connection.Thing.ThingName}" in json.dumps(document)  # left for IoT to substitute
    return PolicyEvaluator(document, REGION, ACCOUNT)


def test_arns_name_the_region_account_and_resource(policy):
    assert policy.client_arn("gp-a") == f"arn:aws:iot:{REGION}:{ACCOUNT}:client/gp-a"
    assert (
        policy.topic_arn("gridpulse/gp-a/telemetry") == f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/gridpulse/gp-a/telemetry"
    )
    assert policy.topicfilter_arn("gridpulse/+/x") == f"arn:aws:iot:{REGION}:{ACCOUNT}:topicfilter/gridpulse/+/x"


def test_from_stack_reads_the_device_policy():
    evaluator = PolicyEvaluator.from_stack(Stack(load(), region=REGION, account=ACCOUNT))
    assert evaluator.can_connect("gp-a", "gp-a")


def test_a_thing_connects_only_with_its_own_name_as_client_id(policy):
    assert policy.allows("iot:Connect", policy.client_arn("gp-a"), "gp-a")
    assert not policy.allows("iot:Connect", policy.client_arn("gp-b"), "gp-a")
    assert not policy.can_connect("gp-a-2", "gp-a")
    assert not policy.can_connect("", "gp-a")


def test_a_certificate_not_attached_to_the_thing_cannot_connect(policy):
    assert not policy.allows("iot:Connect", policy.client_arn("gp-a"), "gp-a", attached=False)
    assert not policy.can_connect("gp-a", None)  # no thing at all: nothing resolves


@pytest.mark.parametrize(
    "topic",
    [
        "gridpulse/gp-a/telemetry",
        "gridpulse/gp-a/status",
        "$aws/things/gp-a/shadow/update",
        "$aws/things/gp-a/shadow/get",
    ],
)
def test_a_thing_publishes_to_its_own_topics(policy, topic):
    assert policy.allows("iot:Publish", policy.topic_arn(topic), "gp-a")
    assert not policy.can_publish(topic.replace("gp-a", "gp-b"), "gp-a")


@pytest.mark.parametrize(
    "topic",
    [
        "gridpulse/gp-a/commands",
        "gridpulse/gp-a/telemetry/extra",
        "gridpulse/gp-a",
        "$aws/things/gp-a/shadow/update/delta",
        "$aws/events/presence/connected/gp-a",
    ],
)
def test_a_thing_cannot_publish_anywhere_else(policy, topic):
    assert not policy.can_publish(topic, "gp-a")


@pytest.mark.parametrize(
    "topic_filter",
    [
        "gridpulse/gp-a/commands",
        "$aws/things/gp-a/shadow/update/delta",
        "$aws/things/gp-a/shadow/update/accepted",
        "$aws/things/gp-a/shadow/update/rejected",
        "$aws/things/gp-a/shadow/get/accepted",
        "$aws/things/gp-a/shadow/get/rejected",
    ],
)
def test_a_thing_subscribes_to_its_own_filters(policy, topic_filter):
    assert policy.allows("iot:Subscribe", policy.topicfilter_arn(topic_filter), "gp-a")


@pytest.mark.parametrize(
    "topic_filter",
    [
        "gridpulse/gp-b/commands",
        "$aws/things/gp-b/shadow/update/delta",
        "gridpulse/gp-a/telemetry",
        # least privilege: of its own shadow only what a device needs
        "$aws/things/gp-a/shadow/#",
        "$aws/things/gp-a/shadow/update/documents",
        "$aws/things/gp-a/shadow/delete/accepted",
        "$aws/things/gp-a/shadow/name/config/update/delta",
    ],
)
def test_a_thing_cannot_subscribe_to_other_filters(policy, topic_filter):
    assert not policy.can_subscribe(topic_filter, "gp-a")


@pytest.mark.parametrize(
    "topic_filter",
    [
        "gridpulse/+/commands",
        "gridpulse/#",
        "#",
        "+/gp-a/commands",
        "gridpulse/gp-a/+",
        "$aws/things/+/shadow/update/delta",
    ],
)
def test_mqtt_wildcard_filters_are_taken_literally_and_refused(policy, topic_filter):
    # gridpulse/+/commands covers gridpulse/gp-a/commands, but IoT checks the
    # filter string itself against topicfilter/ resources.
    assert not policy.can_subscribe(topic_filter, "gp-a")


def test_the_device_policy_fits_iot_cores_size_limit():
    stack = Stack(load())
    document = stack.resolve(stack.resources("AWS::IoT::Policy")["DevicePolicy"]["Properties"]["PolicyDocument"])
    assert len(json.dumps(document, separators=(",", ":"))) <= 2048  # characters, whitespace excluded


def test_receive_is_checked_per_topic(policy):
    assert policy.can_receive("gridpulse/gp-a/commands", "gp-a")
    assert policy.can_receive("$aws/things/gp-a/shadow/update/delta", "gp-a")
    assert not policy.can_receive("gridpulse/gp-b/commands", "gp-a")
    assert not policy.can_receive("gridpulse/gp-a/telemetry", "gp-a")
    assert not policy.can_receive("$aws/events/presence/connected/gp-a", "gp-a")
    assert not policy.can_receive("$aws/things/gp-a/shadow/update/documents", "gp-a")
    assert not policy.can_receive("$aws/things/gp-b/shadow/update/delta", "gp-a")


def test_unknown_actions_are_refused(policy):
    assert not policy.allows("iot:UpdateThingShadow", policy.topic_arn("gridpulse/gp-a/telemetry"), "gp-a")


def test_a_thing_name_with_wildcard_characters_is_literal(policy):
    # ${iot:Connection.Thing.ThingName} = "*" must not turn into a wildcard
    assert policy.can_publish("gridpulse/*/telemetry", "*")
    assert not policy.can_publish("gridpulse/gp-b/telemetry", "*")


# ---------------------------------------------------------------- IAM rules


def _evaluator(*statements) -> PolicyEvaluator:
    return PolicyEvaluator({"Version": "2012-10-17", "Statement": list(statements)}, REGION, ACCOUNT)


ANY_TOPIC = f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/*"


def test_explicit_deny_wins_over_allow():
    evaluator = _evaluator(
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Publish", "Resource": f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/secret/*"},
    )
    assert evaluator.can_publish("open/x", "t")
    assert not evaluator.can_publish("secret/x", "t")
    assert evaluator.can_receive("secret/x", "t")


def test_nothing_is_allowed_without_a_matching_allow():
    assert not _evaluator().can_publish("a", "t")
    assert not _evaluator({"Effect": "Deny", "Action": "*", "Resource": "*"}).can_publish("a", "t")


def test_question_mark_matches_one_character_and_star_crosses_levels():
    evaluator = _evaluator(
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/room/?/*"}
    )
    assert evaluator.can_publish("room/1/temp", "t")
    assert evaluator.can_publish("room/1/a/b/c", "t")
    assert not evaluator.can_publish("room/12/temp", "t")


def test_action_names_are_case_insensitive_and_may_use_wildcards():
    evaluator = _evaluator({"Effect": "Allow", "Action": ["IOT:publish", "iot:Sub*"], "Resource": "*"})
    assert evaluator.can_publish("a", "t")
    assert evaluator.can_subscribe("a", "t")
    assert not evaluator.can_receive("a", "t")


def test_is_attached_condition_false_and_true():
    evaluator = _evaluator(
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": ANY_TOPIC,
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": ["false"]}},
        }
    )
    assert evaluator.can_publish("a", "t", attached=False)
    assert not evaluator.can_publish("a", "t", attached=True)


def test_client_id_variable_and_iam_escapes():
    evaluator = _evaluator(
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/c/${{iot:ClientId}}/${{*}}",
        }
    )
    assert evaluator.can_publish("c/dev-1/*", "t", client_id="dev-1")
    assert not evaluator.can_publish("c/dev-1/x", "t", client_id="dev-1")
    assert not evaluator.can_publish("c/dev-1/*", "t")  # unresolved variable: no match


def test_a_policy_given_as_json_text_is_read():
    text = json.dumps({"Statement": {"Effect": "Allow", "Action": "iot:Publish", "Resource": ANY_TOPIC}})
    assert PolicyEvaluator(text, REGION, ACCOUNT).can_publish("x", "t")


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "NotResource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": "*", "Condition": {"StringEquals": {"a": "b"}}},
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": "*",
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "maybe"}},
        },
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {"Effect": "Maybe", "Action": "iot:Publish", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:${iot:ClientId}", "Resource": "*"},
    ],
)
def test_policy_features_it_does_not_implement_are_refused(statement):
    with pytest.raises(UnsupportedPolicy):
        _evaluator(statement)
