"""Each IoT rule's SQL lives in iot_rules/ and template.yaml carries the same text."""

from infrastructure.cfn import ROOT, Stack, load


def test_rule_sql_matches_its_file_and_every_rule_has_an_error_action():
    rules = Stack(load()).resources("AWS::IoT::TopicRule")
    assert {"TelemetryRule", "LightStatusRule", "PresenceRule"} <= set(rules)
    for logical, rule in rules.items():
        path = ROOT / rule["Metadata"]["SqlFile"]
        payload = rule["Properties"]["TopicRulePayload"]
        assert " ".join(path.read_text().split()) == " ".join(payload["Sql"].split()), logical
        assert payload["AwsIotSqlVersion"] == "2016-03-23"
        assert payload["ErrorAction"], logical
    files = {p.name for p in (ROOT / "iot_rules").glob("*.sql")}
    assert files == {ROOT.joinpath(r["Metadata"]["SqlFile"]).name for r in rules.values()}
