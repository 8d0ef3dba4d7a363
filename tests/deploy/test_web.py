"""The web dashboard's production serving in template.yaml (#17): a private
bucket readable only by its CloudFront distribution, HTTPS only, security
headers with a Content-Security-Policy that allows no inline script, and the
API's CORS limited to the dashboard's origin (docs/deploy.md)."""

from __future__ import annotations

import pytest

from infrastructure.cfn import Stack, load

pytestmark = pytest.mark.deploy

DOMAIN = "d111111abcdef8.cloudfront.net"
TEMPLATE = load()


def _deployed(**parameters) -> Stack:
    """The template as `sam deploy` evaluates it: parameter Defaults (not the local
    stack's values) unless given, and a distribution domain for !GetAtt."""
    template = TEMPLATE
    defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    stack = Stack(template, name="gridpulse", region="eu-west-1", parameters={**defaults, **parameters})
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"phys-{logical}")
    stack.attributes[("WebDistribution", "DomainName")] = DOMAIN
    stack.attributes[("WebBucket", "Arn")] = "arn:aws:s3:::phys-WebBucket"
    return stack


def _csp(stack: Stack) -> dict[str, list[str]]:
    policy = stack.resources()["WebResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    text = stack.resolve(policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = [d.split() for d in text.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_csp_allows_no_inline_or_foreign_script():
    csp = _csp(_deployed())
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    for directive, sources in csp.items():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(sources) or directive == "img-src", (
            directive
        )
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]


def test_csp_names_the_tile_server_and_the_api():
    csp = _csp(_deployed())
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
    assert csp["connect-src"] == ["'self'", "https://*.execute-api.eu-west-1.amazonaws.com"]
    pinned = _csp(
        _deployed(
            WebTileUrl="https://maps.example.net:8443/osm/{z}/{x}/{y}.png", WebApiOrigin="https://api.example.com"
        )
    )
    assert pinned["img-src"] == ["'self'", "data:", "https://maps.example.net:8443"]
    assert pinned["connect-src"] == ["'self'", "https://api.example.com"]
    assert _csp(_deployed(WebTileUrl=""))["img-src"] == ["'self'", "data:"]


def test_other_security_headers():
    policy = _deployed().resources()["WebResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = policy["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    assert all(h["Override"] for h in headers.values())


def test_bucket_is_private_encrypted_and_readable_only_by_the_distribution_over_tls():
    stack = _deployed()
    bucket = stack.resources()["WebBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert "AccessControl" not in bucket and "WebsiteConfiguration" not in bucket
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    policy = stack.resources()["WebBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebBucket"}
    statements = stack.resolve(policy["PolicyDocument"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (read,) = allows
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert read["Condition"] == {
        "StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/phys-WebDistribution"}
    }
    (tls,) = [s for s in statements if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "s3:*"


def test_distribution_serves_the_bucket_through_origin_access_control_over_https_only():
    stack = _deployed()
    config = stack.resources()["WebDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not a legacy OAI
    oac = stack.resources()["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    for behavior in behaviors:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "WebResponseHeadersPolicy"}
    assert config["DefaultRootObject"] == "index.html"
    fallback = {e["ErrorCode"]: (e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]}
    assert fallback == {403: (200, "/index.html"), 404: (200, "/index.html")}
    outputs = stack.template["Outputs"]
    assert stack.resolve(outputs["WebUrl"]["Value"]) == f"https://{DOMAIN}"
    assert {"WebBucketName", "WebDistributionId"} <= set(outputs)


def test_api_cors_names_the_dashboard_origin_when_deployed_and_any_origin_locally():
    """Preflight (the Api's Cors), API Gateway's own errors and every function's
    answers name one origin: the distribution's by default, a parameter's when set."""
    deployed = _deployed()
    api = deployed.resources()["GridPulseApi"]["Properties"]
    expected = f"https://{DOMAIN}"
    assert deployed.resolve(api["Cors"]["AllowOrigin"]) == f"'{expected}'"
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = api["GatewayResponses"][kind]["ResponseParameters"]["Headers"]
        assert deployed.resolve(headers["Access-Control-Allow-Origin"]) == f"'{expected}'", kind
    for logical, function in deployed.functions().items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert deployed.resolve(variables["CORS_ALLOW_ORIGIN"]) == expected, logical

    custom = _deployed(CorsAllowOrigin="https://energy.example.com")
    assert custom.resolve(api["Cors"]["AllowOrigin"]) == "'https://energy.example.com'"

    local = Stack(TEMPLATE)  # the local stack's values: the app is served from the API's own origin
    assert local.resolve(api["Cors"]["AllowOrigin"]) == "'*'"
    assert {
        local.resolve(f["Properties"]["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"])
        for f in local.functions().values()
    } == {"*"}


def test_a_custom_domain_is_the_dashboard_origin_and_needs_a_certificate():
    stack = _deployed(
        WebDomainName="energy.example.com",
        WebCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
    )
    api = stack.resources()["GridPulseApi"]["Properties"]
    assert stack.resolve(api["Cors"]["AllowOrigin"]) == "'https://energy.example.com'"
    assert {
        stack.resolve(f["Properties"]["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"])
        for f in stack.functions().values()
    } == {"https://energy.example.com"}
    assert stack.resolve(stack.template["Outputs"]["WebUrl"]["Value"]) == "https://energy.example.com"
    config = stack.resources()["WebDistribution"]["Properties"]["DistributionConfig"]
    assert stack.resolve(config["Aliases"]) == ["energy.example.com"]
    certificate = stack.resolve(config["ViewerCertificate"])
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021" and certificate["SslSupportMethod"] == "sni-only"
    assert _deployed().resolve(config["ViewerCertificate"]) == {"CloudFrontDefaultCertificate": True}
    rule = stack.template["Rules"]["WebDomainNeedsCertificate"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebCertificateArn"}, ""]}]}


def test_the_reset_email_links_to_the_dashboard():
    """PasswordResetFunction's WEB_ORIGIN (the reset link's origin): the WebUrl output when deployed,
    a WebOrigin parameter when set, the API's own origin locally (the gateway serves the dashboard)."""

    def web_origin(stack: Stack) -> str:
        function = stack.functions()["PasswordResetFunction"]
        return stack.resolve(function["Properties"]["Environment"]["Variables"]["WEB_ORIGIN"])

    assert web_origin(_deployed()) == f"https://{DOMAIN}"
    custom = _deployed(
        WebDomainName="energy.example.com", WebCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/abc-123"
    )
    assert web_origin(custom) == "https://energy.example.com"
    assert web_origin(_deployed(WebOrigin="https://app.example.org")) == "https://app.example.org"
    assert web_origin(Stack(TEMPLATE, parameters={"WebOrigin": "http://127.0.0.1:47123"})) == "http://127.0.0.1:47123"
