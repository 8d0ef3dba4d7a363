"""The repeated parts of template.yaml's operations section (#16), generated.

    python -m infrastructure.operations --write   # rewrite them in template.yaml
    python -m infrastructure.operations           # exit 1 if template.yaml differs from what would be written

One alarm per function (errors, throttles), per dead-letter queue (not empty)
and per table (throttle events), the IoT rules' error-action alarm (one metric
per rule), the dashboard's per-function, per-queue, per-rule and per-table
metric lines, and the log groups of the "function errors" saved query are
written from the template's own functions, queues, rules and tables, in the
template's order. A new function, queue or table gets them by running
`--write`; tests/deploy/test_operations.py fails until then.

The generated alarms sit between `# generated (...): <block>` and
`# end generated: <block>` comments; the dashboard's generated widgets are
found by their title, and only their metric lines are rewritten. Everything
else in the section (the topic, the ingestion, API and Tuya alarms, the
composite alarm, the WAF web ACL, the other widgets and queries) is written
by hand.
"""

from __future__ import annotations

import sys
from typing import Callable

from infrastructure.cfn import TEMPLATE, Stack, load

COMMAND = "python -m infrastructure.operations --write"
ALARM_TAIL = """      AlarmActions: [!Ref OperatorsTopic]
      OKActions: [!Ref OperatorsTopic]
"""


def dead_letter_queues(stack: Stack) -> list[str]:
    """Every SQS redrive target, every function's DeadLetterQueue and every IoT rule's
    error queue, in the template's order."""
    found = set()
    for resource in stack.resources("AWS::SQS::Queue").values():
        target = (resource["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if target:
            found.add(target["Fn::GetAtt"][0])
    for function in stack.functions().values():
        target = (function["Properties"].get("DeadLetterQueue") or {}).get("TargetArn")
        if target:
            found.add(target["Fn::GetAtt"][0])
    for rule in stack.resources("AWS::IoT::TopicRule").values():
        error = (rule["Properties"]["TopicRulePayload"].get("ErrorAction") or {}).get("Sqs")
        if error:
            found.add(error["QueueUrl"]["Ref"])
    return [logical for logical in stack.resources("AWS::SQS::Queue") if logical in found]


def _function_alarm(function: str, metric: str) -> str:
    parameter = f"AlarmFunction{metric}"
    return f"""  {function}{metric}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${{AWS::StackName}}-{function}-{metric.lower()}"
      AlarmDescription: {function} {metric.lower()} (Lambda {metric}) in 5 minutes at or above the {parameter} parameter.
      Namespace: AWS/Lambda
      MetricName: {metric}
      Dimensions: [{{Name: FunctionName, Value: !Ref {function}}}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: !Ref {parameter}
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
{ALARM_TAIL}"""


def _queue_alarm(queue: str) -> str:
    return f"""  {queue}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${{AWS::StackName}}-{queue}-not-empty"
      AlarmDescription: {queue} holds messages that failed; look at them, fix, redrive (docs/operations.md).
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{{Name: QueueName, Value: !GetAtt {queue}.QueueName}}]
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
{ALARM_TAIL}"""


def _table_alarm(table: str) -> str:
    def stat(metric_id: str, metric: str) -> str:
        return f"""        - Id: {metric_id}
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/DynamoDB
              MetricName: {metric}
              Dimensions: [{{Name: TableName, Value: !Ref {table}}}]
            Period: 300
            Stat: Sum
"""

    return f"""  {table}ThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${{AWS::StackName}}-{table}-throttles"
      AlarmDescription: {table} read + write throttle events in 5 minutes at or above AlarmDynamoDbThrottles.
      Metrics:
        - Id: throttles
          Label: {table} throttle events
          Expression: FILL(reads, 0) + FILL(writes, 0)
{stat("reads", "ReadThrottleEvents")}{stat("writes", "WriteThrottleEvents")}      EvaluationPeriods: 1
      Threshold: !Ref AlarmDynamoDbThrottles
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
{ALARM_TAIL}"""


def _rules_alarm(rules: list[str]) -> str:
    expression = " + ".join(f"FILL(r{n}, 0)" for n in range(len(rules)))
    metrics = "".join(
        f"""        - Id: r{n}
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: AWS/IoT
              MetricName: ErrorActionFailure
              Dimensions: [{{Name: RuleName, Value: !Ref {rule}}}]
            Period: 300
            Stat: Sum
"""
        for n, rule in enumerate(rules)
    )
    return f"""  # The IoT rules' error action fired and failed too: the message is lost
  # (an error action that worked lands in IotRulesDeadLetterQueue, alarmed above).
  IotRulesErrorActionFailedAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${{AWS::StackName}}-iot-rules-error-action-failed"
      AlarmDescription: An IoT rule could not deliver a message to its target nor to its error action queue.
      Metrics:
        - Id: failures
          Label: ErrorActionFailure, all rules
          Expression: {expression}
{metrics}      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
{ALARM_TAIL}"""


def _function_errors_query(stack: Stack) -> str:
    groups = "".join(
        f"        - !Ref {f['Properties']['LoggingConfig']['LogGroup']['Ref']}\n" for f in stack.functions().values()
    )
    return f"""  # Errors the functions logged (Powertools level ERROR) and what the Lambda runtime
  # printed for unhandled exceptions and timeouts, by function.
  FunctionErrorsQuery:
    Type: AWS::Logs::QueryDefinition
    Properties:
      Name: !Sub "${{AWS::StackName}}/function errors"
      LogGroupNames:
{groups}      QueryString: |
        fields @timestamp, @log, level, message, correlation_id, @message
        | filter level = "ERROR" or level = "CRITICAL" or @message like "[ERROR]" or @message like "Task timed out"
        | stats count(*) as errors, latest(message) as last_message by @log
        | sort errors desc
"""


def blocks(stack: Stack) -> dict[str, str]:
    """The generated alarm and query blocks, by name."""
    functions = list(stack.functions())
    tables = list(stack.resources("AWS::DynamoDB::Table"))
    return {
        "function alarms": "".join(_function_alarm(f, m) for f in functions for m in ("Errors", "Throttles")),
        "dead-letter queue alarms": "".join(_queue_alarm(q) for q in dead_letter_queues(stack)),
        "IoT rules error action alarm": _rules_alarm(list(stack.resources("AWS::IoT::TopicRule"))),
        "table alarms": "".join(_table_alarm(t) for t in tables),
        "function errors query": _function_errors_query(stack),
    }


def _lines(items: list[str]) -> list[str]:
    return [f"          {item}," for item in items[:-1]] + [f"          {items[-1]}"]


def _short(logical: str, suffix: str) -> str:
    return logical.removesuffix(suffix) or logical


def widgets(stack: Stack) -> dict[str, Callable[[], list[str]]]:
    """Dashboard widget title -> its generated metric lines."""
    functions = list(stack.functions())
    tables = list(stack.resources("AWS::DynamoDB::Table"))
    rules = list(stack.resources("AWS::IoT::TopicRule"))

    def per_function(metric: str) -> Callable[[], list[str]]:
        return lambda: _lines(
            [
                f'["AWS/Lambda", "{metric}", "FunctionName", "${{{f}}}", {{"label": "{_short(f, "Function")}"}}]'
                for f in functions
            ]
        )

    def per_table(*metrics: str) -> Callable[[], list[str]]:
        def lines() -> list[str]:
            out = []
            for t in tables:
                for metric in metrics:
                    label = _short(t, "Table")
                    if len(metrics) > 1:
                        label += " reads" if metric.startswith("Read") else " writes"
                    out.append(f'["AWS/DynamoDB", "{metric}", "TableName", "${{{t}}}", {{"label": "{label}"}}]')
            return _lines(out)

        return lines

    def rule_lines() -> list[str]:
        out = []
        for rule in rules:
            for metric, label in (
                ("TopicMatch", "matched"),
                ("ErrorActionSuccess", "error action"),
                ("ErrorActionFailure", "error action failed"),
            ):
                out.append(f'["AWS/IoT", "{metric}", "RuleName", "${{{rule}}}", {{"label": "{rule} {label}"}}]')
        return _lines(out)

    def queue_lines() -> list[str]:
        return _lines(
            [
                f'["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${{{q}.QueueName}}", '
                f'{{"label": "{_short(q, "DeadLetterQueue")}"}}]'
                for q in dead_letter_queues(stack)
            ]
        )

    return {
        "Invocations": per_function("Invocations"),
        "Errors": per_function("Errors"),
        "Throttles": per_function("Throttles"),
        "Duration p95 (ms)": per_function("Duration"),
        "Concurrent executions (max)": per_function("ConcurrentExecutions"),
        "Dead-letter queues: messages": queue_lines,
        "Rules: matched, error action": rule_lines,
        "Consumed read units": per_table("ConsumedReadCapacityUnits"),
        "Consumed write units": per_table("ConsumedWriteCapacityUnits"),
        "Throttle events (read + write)": per_table("ReadThrottleEvents", "WriteThrottleEvents"),
    }


def render(text: str, stack: Stack) -> str:
    """`text` (template.yaml) with its generated parts rewritten."""
    for name, body in blocks(stack).items():
        start = f"  # generated ({COMMAND}): {name}\n"
        end = f"  # end generated: {name}\n"
        if text.count(start) != 1 or text.count(end) != 1:
            raise SystemExit(f"template.yaml must hold the block markers once each:\n{start}{end}")
        head, rest = text.split(start)
        _, tail = rest.split(end)
        text = head + start + body + end + tail
    lines = text.split("\n")
    for title, make in widgets(stack).items():
        opening = [
            n
            for n, line in enumerate(lines)
            if f'"title": "{title}"' in line and line.rstrip().endswith('"metrics": [')
        ]
        if len(opening) != 1:
            raise SystemExit(f'the dashboard must have one widget titled "{title}" whose line ends with "metrics": [')
        first = opening[0] + 1
        last = next(n for n in range(first, len(lines)) if lines[n].strip().startswith("]}}"))
        lines[first:last] = make()
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = TEMPLATE.read_text()
    generated = render(text, Stack(load()))
    if "--write" in argv:
        TEMPLATE.write_text(generated)
        return 0
    if generated != text:
        changed = sum(1 for a, b in zip(text.split("\n"), generated.split("\n")) if a != b)
        print(f"template.yaml's operations section is out of date ({changed}+ lines differ): run {COMMAND}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
