from gridpulse import __version__


def test_health_is_public_and_cheap(api, dynamodb_calls):
    status, body = api.get("/health")
    assert status == 200
    assert body["status"] == "healthy" and body["version"] == __version__
    assert dynamodb_calls.dynamodb() == []


def test_detailed_health_checks_each_dependency(api):
    status, body = api.get("/health", query={"detailed": "true"})
    assert status == 200
    assert set(body["checks"]) == {"dynamodb", "signing_key"}
    assert all(c["status"] == "healthy" for c in body["checks"].values())


def test_detailed_health_reports_a_missing_table(api, aws):
    import boto3

    boto3.client("dynamodb").delete_table(TableName=aws.physical["UsersTable"])
    status, body = api.get("/health", query={"detailed": "true"})
    assert body["status"] == "degraded"
    assert body["checks"]["dynamodb"]["status"] == "unhealthy"


def test_status_counts(api):
    api.register("ann@example.com")
    status, body = api.get("/status")
    assert status == 200
    assert body["counts"] == {"devices": 0, "active_devices": 0, "users": 1}


def test_unknown_routes_and_methods_answer_like_api_gateway(api):
    assert api.get("/nope")[0] == 404
    status, body = api.call("DELETE", "/health")
    assert status == 405 and body["error"] == "method_not_allowed"


def test_cors_preflight(api):
    response = api.client.open("/auth/login", method="OPTIONS")
    assert response.status_code == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
