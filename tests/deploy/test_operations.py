"""The operating surface of template.yaml (#16): alarms, dashboard, saved
queries and data protection.

Every list here is derived from the template itself: a function, dead-letter
queue, IoT rule or table added without its alarm (or left off the dashboard)
fails a test, which is the point.
"""

from __future__ import annotations

import json
import re

import pytest

from infrastructure.cfn import ROOT, Stack, load

pytestmark = pytest.mark.deploy

# The one table without point-in-time recovery: a measured cost decision
# (docs/decisions.md, "Telemetry cost"; docs/restore-drill.md).
WITHOUT_PITR = {"TelemetryTable"}


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack(load())


def _alarms(stack: Stack) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in stack.resources("AWS::CloudWatch::Alarm").items()}


def _metrics(alarm: dict) -> list[dict]:
    """The metrics an alarm watches: its single metric, or those of its metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"]}]
    return [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]


def _watching(stack: Stack, namespace: str, metric: str, dimension: str, value: dict) -> list[str]:
    """Alarms that watch `metric` with `dimension` = `value` (a !Ref or !GetAtt of the resource)."""
    return [
        logical
        for logical, alarm in _alarms(stack).items()
        for m in _metrics(alarm)
        if m["Namespace"] == namespace
        and m["MetricName"] == metric
        and {"Name": dimension, "Value": value} in m.get("Dimensions", [])
    ]


def _dead_letter_queues(stack: Stack) -> set[str]:
    """Redrive targets of every queue, and every IoT rule's error action queue."""
    queues = {
        res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for res in stack.resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in res["Properties"]
    }
    for rule in stack.resources("AWS::IoT::TopicRule").values():
        queues.add(rule["Properties"]["TopicRulePayload"]["ErrorAction"]["Sqs"]["QueueUrl"]["Ref"])
    for function in stack.functions().values():
        if "DeadLetterQueue" in function["Properties"]:
            queues.add(function["Properties"]["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0])
    return queues


def _invoked_asynchronously(stack: Stack) -> set[str]:
    """Functions that a schedule or an IoT rule's Lambda action invokes (InvocationType Event)."""
    found = {
        logical
        for logical, function in stack.functions().items()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] in ("Schedule", "ScheduleV2")
    }
    for rule in stack.resources("AWS::IoT::TopicRule").values():
        for action in rule["Properties"]["TopicRulePayload"]["Actions"]:
            if "Lambda" in action:
                found.add(action["Lambda"]["FunctionArn"]["Fn::GetAtt"][0])
    return found


def test_every_asynchronous_invocation_ends_in_a_dead_letter_queue(stack):
    """A scheduled run or an IoT rule's invocation that fails (after Lambda's two retries) is
    kept in the function's DeadLetterQueue, and a scheduled event EventBridge could not
    deliver goes to the same queue (DeadLetterConfig), which EventBridge may write to."""
    asynchronous = _invoked_asynchronously(stack)
    assert {
        "LightScheduleFunction",
        "OfflineCheckFunction",
        "BillingSyncFunction",
        "DeviceEventsFunction",
    } <= asynchronous
    queues = stack.resources("AWS::SQS::Queue")
    policy = stack.resources("AWS::SQS::QueuePolicy")["ScheduleDeadLetterQueuesPolicy"]["Properties"]
    for logical in asynchronous:
        function = stack.functions()[logical]["Properties"]
        dlq = function.get("DeadLetterQueue")
        assert dlq, f"{logical} is invoked asynchronously and has no DeadLetterQueue"
        assert dlq["Type"] == "SQS" and dlq["TargetArn"]["Fn::GetAtt"][1] == "Arn", logical
        queue = dlq["TargetArn"]["Fn::GetAtt"][0]
        assert queue in queues, logical
        for event in (function.get("Events") or {}).values():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}, logical
                assert {"Ref": queue} in policy["Queues"], f"EventBridge may not write to {queue}"


def test_every_function_has_an_errors_and_a_throttles_alarm_that_pages(stack):
    alarms = _alarms(stack)
    for logical in stack.functions():
        for metric in ("Errors", "Throttles"):
            found = _watching(stack, "AWS/Lambda", metric, "FunctionName", {"Ref": logical})
            assert found, f"{logical} has no {metric} alarm (see the operations section of template.yaml)"
            for alarm in found:
                assert {"Ref": "OperatorsTopic"} in alarms[alarm]["AlarmActions"], alarm


def test_every_dead_letter_queue_pages_when_it_holds_a_message(stack):
    alarms = _alarms(stack)
    dlqs = _dead_letter_queues(stack)
    assert {"TelemetryDeadLetterQueue", "IotRulesDeadLetterQueue"} <= dlqs
    for queue in dlqs:
        found = _watching(
            stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}
        )
        assert found, f"{queue} has no alarm"
        alarm = alarms[found[0]]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), queue
        assert {"Ref": "OperatorsTopic"} in alarm["AlarmActions"], queue


def test_every_table_has_a_throttles_alarm(stack):
    for table in stack.resources("AWS::DynamoDB::Table"):
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert _watching(stack, "AWS/DynamoDB", metric, "TableName", {"Ref": table}), f"{table}: {metric}"


def test_every_iot_rule_error_action_failure_pages(stack):
    for rule in stack.resources("AWS::IoT::TopicRule"):
        assert _watching(stack, "AWS/IoT", "ErrorActionFailure", "RuleName", {"Ref": rule}), rule


def test_ingestion_down_is_a_composite_of_alarms_that_exist(stack):
    composite = stack.resources("AWS::CloudWatch::CompositeAlarm")["IngestionDownAlarm"]["Properties"]
    rule = composite["AlarmRule"]["Fn::Sub"]
    named = {part.split("}")[0] for part in rule.split("${")[1:]}
    assert named >= {"TelemetryQueueAgeAlarm", "TelemetryDeadLetterQueueAlarm", "IngestFunctionErrorsAlarm"}
    assert named <= set(stack.resources("AWS::CloudWatch::Alarm")), named
    assert composite["AlarmActions"] == [{"Ref": "OperatorsTopic"}]


def test_thresholds_are_parameters_with_defaults(stack):
    parameters = stack.template["Parameters"]
    for logical, alarm in _alarms(stack).items():
        threshold = alarm["Threshold"]
        if isinstance(threshold, dict):
            assert "Default" in parameters[threshold["Ref"]], logical
        else:
            assert threshold == 0, f"{logical}: a fixed threshold other than 'any' belongs in a parameter"


def test_operator_email_subscribes_only_when_set():
    template = load()
    subscription = template["Resources"]["OperatorsEmailSubscription"]
    assert subscription["Condition"] == "HasOperatorEmail"
    assert Stack(template).condition("HasOperatorEmail") is False
    with_email = Stack(template, parameters={"OperatorEmail": "ops@example.com"})
    assert with_email.condition("HasOperatorEmail") is True
    assert with_email.resolve(subscription["Properties"]["Endpoint"]) == "ops@example.com"


def _dashboard(stack: Stack) -> dict:
    """The dashboard body with every ${...} of the template filled in."""
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"phys-{logical}")
        stack.attributes.setdefault((logical, "QueueName"), f"queue-{logical}")
    body = stack.resources("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]["DashboardBody"]
    return json.loads(stack.resolve(body))


def test_dashboard_shows_every_function_table_rule_and_dead_letter_queue():
    stack = Stack(load())
    dashboard = _dashboard(stack)
    shown: dict[str, set[str]] = {}
    for widget in dashboard["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            names = [part for part in metric if isinstance(part, str)]
            if names[0] != "...":
                shown.setdefault(names[1], set()).update(names[3::2])
    for logical in stack.functions():
        for metric in ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"):
            assert f"phys-{logical}" in shown[metric], f"{logical}: {metric} not on the dashboard"
    for table in stack.resources("AWS::DynamoDB::Table"):
        for metric in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ReadThrottleEvents"):
            assert f"phys-{table}" in shown[metric], f"{table}: {metric} not on the dashboard"
    for queue in _dead_letter_queues(stack):
        assert f"queue-{queue}" in shown["ApproximateNumberOfMessagesVisible"], queue
    for rule in stack.resources("AWS::IoT::TopicRule"):
        assert f"phys-{rule}" in shown["ErrorActionSuccess"], rule
    assert {"Count", "4XXError", "5XXError", "Latency", "ApproximateAgeOfOldestMessage"} <= set(shown)


def test_every_table_but_telemetry_has_pitr_deletion_protection_and_is_retained(stack):
    tables = stack.resources("AWS::DynamoDB::Table")
    assert WITHOUT_PITR <= set(tables)
    for logical, table in tables.items():
        assert table.get("DeletionPolicy") == "Retain", logical
        assert table.get("UpdateReplacePolicy") == "Retain", logical
        props = table["Properties"]
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        if logical in WITHOUT_PITR:
            assert pitr is False, logical
            continue
        assert pitr is True, f"{logical} has no point-in-time recovery"
        assert props.get("DeletionProtectionEnabled") is True, f"{logical} has no deletion protection"


def test_saved_queries_read_log_groups_of_this_template(stack):
    queries = {
        stack.sub(q["Properties"]["Name"]["Fn::Sub"]).split("/", 1)[1]: q["Properties"]
        for q in stack.resources("AWS::Logs::QueryDefinition").values()
    }
    assert {"errors by route", "slowest requests", "rejected readings by reason", "a device's journey"} <= set(queries)
    groups = stack.resources("AWS::Logs::LogGroup")
    for name, query in queries.items():
        for group in query["LogGroupNames"]:
            assert group["Ref"] in groups, f"{name}: {group}"
    function_groups = {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in stack.functions().values()}
    assert {g["Ref"] for g in queries["function errors"]["LogGroupNames"]} == function_groups


def test_access_log_prints_the_fields_the_saved_queries_use(stack):
    """status and latencyMs are JSON numbers (sorted and compared as numbers)."""
    api = next(iter(stack.resources("AWS::Serverless::Api").values()))
    line = api["Properties"]["AccessLogSetting"]["Format"].replace("$context.status", "502")
    line = line.replace("$context.responseLatency", "1234")
    sample = json.loads(line)
    assert sample["status"] == 502 and sample["latencyMs"] == 1234
    assert {"requestId", "method", "route", "path"} <= set(sample)


def test_every_function_and_the_api_log_with_the_retention_parameter(stack):
    groups = stack.resources("AWS::Logs::LogGroup")
    used = {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in stack.functions().values()}
    used.add("ApiAccessLogGroup")
    for group in used:
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, group


def test_the_generated_parts_of_the_operations_section_are_up_to_date():
    """template.yaml holds what `python -m infrastructure.operations --write` writes."""
    from infrastructure import operations

    assert operations.main([]) == 0, "run python -m infrastructure.operations --write"


def test_a_new_function_queue_and_table_get_their_alarms_and_dashboard_lines_from_the_generator():
    import copy

    from infrastructure import operations
    from infrastructure.cfn import TEMPLATE

    template = load()
    resources = template["Resources"]
    resources["MeterExportFunction"] = copy.deepcopy(resources["CleanupFunction"])
    resources["MeterExportDeadLetterQueue"] = copy.deepcopy(resources["CleanupDeadLetterQueue"])
    resources["MeterExportQueue"] = copy.deepcopy(resources["CleanupQueue"])
    resources["MeterExportQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] = {
        "Fn::GetAtt": ["MeterExportDeadLetterQueue", "Arn"]
    }
    resources["ExportsTable"] = copy.deepcopy(resources["UsersTable"])
    text = operations.render(TEMPLATE.read_text(), Stack(template))
    for alarm in (
        "MeterExportFunctionErrorsAlarm",
        "MeterExportFunctionThrottlesAlarm",
        "MeterExportDeadLetterQueueAlarm",
        "ExportsTableThrottlesAlarm",
    ):
        assert f"\n  {alarm}:\n" in text, alarm
    assert '"ConcurrentExecutions", "FunctionName", "${MeterExportFunction}"' in text
    assert '"ApproximateNumberOfMessagesVisible", "QueueName", "${MeterExportDeadLetterQueue.QueueName}"' in text
    assert '"ConsumedReadCapacityUnits", "TableName", "${ExportsTable}"' in text


# ------------------------------------------------------------------ business metrics (GridPulse namespace)

_EMITTED = re.compile(r"""(?<![.\w])(?:count|milliseconds)\(\s*["']([A-Za-z]+)["']([^)]*)\)""")
# Dimensions a count may carry: a handful of values each. Never an id (device, user, alert ...).
LOW_CARDINALITY = {"reason", "alert_type", "origin", "operation", "trigger", "kind"}


def _emitted() -> dict[str, set[str]]:
    """Metric name -> the dimensions it is counted by, from every count(...) and
    milliseconds(...) call of the shared layer and the functions."""
    found: dict[str, set[str]] = {}
    for folder in (ROOT / "layers" / "shared" / "gridpulse", ROOT / "functions"):
        for path in folder.rglob("*.py"):
            for name, rest in _EMITTED.findall(path.read_text()):
                found.setdefault(name, set()).update(re.findall(r"\b([a-z_]+)=", rest))
    return found


def _referenced(stack: Stack) -> set[str]:
    """Metrics of the GridPulse namespace that an alarm or a dashboard widget reads."""
    names = {
        m["MetricName"] for alarm in _alarms(stack).values() for m in _metrics(alarm) if m["Namespace"] == "GridPulse"
    }
    for widget in _dashboard(stack)["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if metric[0] == "GridPulse":
                assert metric[2:4] == ["service", "gridpulse"], metric  # the dimension the code writes
                names.add(metric[1])
    return names


def test_the_namespace_the_alarms_read_is_the_one_the_code_writes(stack):
    namespace = stack.template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert namespace == "GridPulse"
    assert stack.template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "gridpulse"


def test_every_metric_the_template_reads_is_emitted_and_every_business_metric_is_shown(stack):
    from gridpulse.observability import BUSINESS_METRICS

    emitted, referenced = _emitted(), _referenced(stack)
    assert referenced - set(emitted) == set(), "read by an alarm or the dashboard, emitted nowhere"
    assert set(BUSINESS_METRICS) - set(emitted) == set(), "a business metric (#16 item 1) is emitted nowhere"
    assert set(BUSINESS_METRICS) - referenced == set(), "a business metric (#16 item 1) is not on the dashboard"


def test_metrics_are_counted_only_by_low_cardinality_dimensions():
    for name, dimensions in _emitted().items():
        assert dimensions <= LOW_CARDINALITY, f"{name} counted by {dimensions - LOW_CARDINALITY}"
