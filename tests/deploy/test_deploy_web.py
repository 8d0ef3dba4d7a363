"""`make deploy-web` (infrastructure/deploy_web.py) against moto: a stack with
the web outputs, its bucket and a CloudFront distribution, and a small build."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infrastructure import deploy_web

pytestmark = pytest.mark.deploy

STACK = "gridpulse-web-test"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
TILES = "https://tiles.example.net/{z}/{x}/{y}.png"

# What the deployed template gives deploy_web: its four outputs and the tile parameter.
FAKE_STACK = {
    "Parameters": {"DistributionId": {"Type": "String"}, "WebTileUrl": {"Type": "String"}},
    "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "WebDistributionId": {"Value": {"Ref": "DistributionId"}},
        "WebUrl": {"Value": "https://d111111abcdef8.cloudfront.net"},
        "ApiUrl": {"Value": API_URL},
    },
}


@pytest.fixture
def stack():
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        distribution = session.client("cloudfront").create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "",
                "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [{"Id": "web", "DomainName": "web.s3.amazonaws.com"}]},
                "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        )["Distribution"]["Id"]
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(FAKE_STACK),
            Parameters=[
                {"ParameterKey": "DistributionId", "ParameterValue": distribution},
                {"ParameterKey": "WebTileUrl", "ParameterValue": TILES},
            ],
        )
        outputs = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "WebBucketName")
        yield session, bucket, distribution


def _build(root, files: dict[str, str]):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


BUILD = {
    "index.html": "<!doctype html><script type=module src=assets/index-BfXk9sQ2.js></script>",
    "assets/index-BfXk9sQ2.js": "export const ok = 1;",
    "assets/index-3f2a9c1b.css": "body{margin:0}",
    "vendor/leaflet-1.9.4/leaflet.js": "/* leaflet */",
    "vendor/leaflet-1.9.4/images/marker-icon.png": "png",
    "vendor/LICENSE.leaflet.txt": "BSD-2-Clause",
    "favicon.svg": "<svg/>",
}


def test_deploy_uploads_with_types_and_caching_removes_stale_files_and_invalidates(stack, tmp_path):
    session, bucket, distribution = stack
    s3 = session.client("s3")
    s3.put_object(Bucket=bucket, Key="assets/index-OLD00000.js", Body=b"old build")
    dist = _build(tmp_path / "dist", BUILD)
    logged: list[str] = []

    done = deploy_web.deploy(session, STACK, dist, log=logged.append)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == set(BUILD) | {"config.json"}
    assert done["deleted"] == ["assets/index-OLD00000.js"]
    assert done["uploaded"][-1] == "index.html"  # last: never a page naming assets not yet there

    def head(key):
        answer = s3.head_object(Bucket=bucket, Key=key)
        return answer["ContentType"], answer["CacheControl"]

    year = "public, max-age=31536000, immutable"
    assert head("index.html") == ("text/html; charset=utf-8", "no-cache")
    assert head("assets/index-BfXk9sQ2.js") == ("text/javascript; charset=utf-8", year)
    assert head("assets/index-3f2a9c1b.css") == ("text/css; charset=utf-8", year)
    assert head("vendor/leaflet-1.9.4/leaflet.js") == ("text/javascript; charset=utf-8", year)
    assert head("vendor/leaflet-1.9.4/images/marker-icon.png") == ("image/png", year)
    assert head("vendor/LICENSE.leaflet.txt") == ("text/plain; charset=utf-8", "no-cache")
    assert head("favicon.svg") == ("image/svg+xml", "no-cache")  # no hash in its name: revalidated
    assert head("config.json") == ("application/json", "no-cache")
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config == {"apiBase": API_URL, "tileUrl": TILES}
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode() == BUILD["index.html"]

    invalidations = session.client("cloudfront").list_invalidations(DistributionId=distribution)
    items = invalidations["InvalidationList"]["Items"]
    assert [i["Id"] for i in items] == [done["invalidation"]]
    assert any("https://d111111abcdef8.cloudfront.net" in line for line in logged)


def test_a_second_deploy_uploads_only_what_changed(stack, tmp_path):
    session, bucket, distribution = stack
    dist = _build(tmp_path / "dist", BUILD)
    deploy_web.deploy(session, STACK, dist, log=lambda _: None)

    again = deploy_web.deploy(session, STACK, dist, log=lambda _: None)
    assert again["uploaded"] == [] and again["deleted"] == [] and again["invalidation"] is None

    (dist / "assets/index-BfXk9sQ2.js").unlink()
    _build(dist, {"assets/index-Zq81mN2c.js": "export const ok = 2;", "index.html": "<!doctype html>v2"})
    changed = deploy_web.deploy(session, STACK, dist, log=lambda _: None)
    assert changed["uploaded"] == ["assets/index-Zq81mN2c.js", "index.html"]
    assert changed["deleted"] == ["assets/index-BfXk9sQ2.js"] and changed["invalidation"]
    items = session.client("cloudfront").list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert len(items) == 2


def test_dry_run_changes_nothing(stack, tmp_path):
    session, bucket, distribution = stack
    session.client("s3").put_object(Bucket=bucket, Key="stale.js", Body=b"x")
    done = deploy_web.deploy(session, STACK, _build(tmp_path / "dist", BUILD), dry_run=True, log=lambda _: None)
    assert done["deleted"] == ["stale.js"] and done["invalidation"] is None
    keys = {o["Key"] for o in session.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"stale.js"}
    assert session.client("cloudfront").list_invalidations(DistributionId=distribution)["InvalidationList"].get(
        "Quantity", 0
    ) in (0, None)


def test_a_build_without_index_html_empties_nothing(stack, tmp_path):
    session, bucket, distribution = stack
    session.client("s3").put_object(Bucket=bucket, Key="index.html", Body=b"live site")
    with pytest.raises(SystemExit, match="index.html not found"):
        deploy_web.deploy(session, STACK, _build(tmp_path / "dist", {"assets/a.js": "1"}), log=lambda _: None)
    assert session.client("s3").get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"live site"


def test_stack_name_and_region_come_from_samconfig():
    assert deploy_web.samconfig_defaults() == ("gridpulse", "eu-west-1")


def test_warns_when_the_stack_would_block_the_apps_api_calls():
    outputs = {"ApiUrl": API_URL, "WebUrl": "https://d111111abcdef8.cloudfront.net"}
    assert deploy_web.origin_warnings(outputs, {"WebApiOrigin": "", "CorsAllowOrigin": ""}) == []
    pinned = {"WebApiOrigin": "https://abc123.execute-api.us-east-1.amazonaws.com", "CorsAllowOrigin": "*"}
    assert deploy_web.origin_warnings(outputs, pinned) == []
    (csp,) = deploy_web.origin_warnings(outputs, {"WebApiOrigin": "https://old.example.com"})
    assert "CSP will block" in csp
    (cors,) = deploy_web.origin_warnings(outputs, {"CorsAllowOrigin": "https://energy.example.com"})
    assert "cannot read the API's answers" in cors
