"""User admin and self-service through the API Gateway stand-in."""

from __future__ import annotations


def _new_user(api, admin_token, email, role="viewer", **extra):
    status, body = api.post(
        "/users",
        {"name": email.split("@")[0], "email": email, "password": "correct-horse-1", "role": role, **extra},
        token=admin_token,
    )
    assert status == 201, body
    return body


def test_admin_creates_users_with_role_and_scope(api, admin_token):
    user = _new_user(api, admin_token, "op@example.com", role="operator", hotel_ids=["h1"], cities=["Lisbon"])
    assert user["role"] == "operator" and user["hotel_ids"] == ["h1"] and user["cities"] == ["Lisbon"]
    token = api.login("op@example.com")
    assert api.get("/auth/me", token=token)[1]["role"] == "operator"


def test_admin_lists_users_page_by_page(api, admin_token):
    for i in range(3):
        _new_user(api, admin_token, f"u{i}@example.com")
    seen, token = [], None
    while True:
        status, page = api.get(
            "/users", token=admin_token, query={"limit": 2, **({"next_token": token} if token else {})}
        )
        assert status == 200
        assert page["count"] == len(page["items"]) <= 2
        seen += [u["email"] for u in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert sorted(seen) == sorted(["root@gridpulse.example.com", "u0@example.com", "u1@example.com", "u2@example.com"])
    assert seen[0] == "u2@example.com"  # newest first


def test_list_users_rejects_bad_paging_input(api, admin_token):
    status, body = api.get("/users", token=admin_token, query={"limit": 0})
    assert status == 400 and body["fields"][0]["field"] == "limit"
    status, body = api.get("/users", token=admin_token, query={"next_token": "garbage!"})
    assert status == 400 and body["fields"][0]["field"] == "next_token"


def test_a_viewer_calling_an_admin_route_gets_403(api):
    token = api.register("ann@example.com")["token"]
    for method, path in [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/admin/stats"),
        ("GET", "/admin/devices/statuses"),
    ]:
        status, body = api.call(
            method,
            path,
            {"name": "x", "email": "x@example.com", "password": "correct-horse-1"} if method == "POST" else None,
            token=token,
        )
        assert status == 403, (method, path, body)
        assert body["error"] == "forbidden"


def test_user_a_cannot_see_or_change_user_b(api):
    a = api.register("a@example.com")
    b = api.register("b@example.com")
    b_id = b["user"]["user_id"]
    assert api.get(f"/users/{b_id}", token=a["token"])[0] == 404
    assert api.put(f"/users/{b_id}", {"name": "hacked"}, token=a["token"])[0] == 404
    assert api.get("/users/does-not-exist", token=a["token"])[0] == 404
    # and the 404 for someone else's id looks exactly like the 404 for no id at all
    assert api.get(f"/users/{b_id}", token=a["token"])[1] == api.get("/users/nope", token=a["token"])[1]
    assert api.get(f"/users/{b_id}", token=b["token"])[0] == 200


def test_self_can_change_profile_but_not_role_or_scope(api):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    status, body = api.put(f"/users/{uid}", {"name": "Ann B", "city": "Porto"}, token=me["token"])
    assert status == 200 and body["name"] == "Ann B" and body["city"] == "Porto"
    status, body = api.put(f"/users/{uid}", {"role": "admin", "hotel_ids": ["h1"]}, token=me["token"])
    assert status == 403 and {f["field"] for f in body["fields"]} == {"role", "hotel_ids"}
    assert api.get("/auth/me", token=me["token"])[1]["role"] == "viewer"


def test_password_change_needs_the_current_password_and_ends_other_sessions(api):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    other_session = api.login("ann@example.com")
    status, body = api.put(f"/users/{uid}", {"password": "new-password-22"}, token=me["token"])
    assert status == 400 and body["fields"][0]["field"] == "current_password"
    status, body = api.put(
        f"/users/{uid}", {"password": "new-password-22", "current_password": "wrong-one-1"}, token=me["token"]
    )
    assert status == 400
    status, body = api.put(
        f"/users/{uid}", {"password": "new-password-22", "current_password": "correct-horse-1"}, token=me["token"]
    )
    assert status == 200 and body["token"]
    assert api.get("/auth/me", token=other_session)[0] == 401
    assert api.get("/auth/me", token=body["token"])[0] == 200
    assert api.login("ann@example.com", "new-password-22")


def test_email_change_moves_the_login_and_frees_the_old_address(api):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    assert (
        api.put(
            f"/users/{uid}", {"email": "ann2@example.com", "current_password": "correct-horse-1"}, token=me["token"]
        )[0]
        == 200
    )
    assert api.login("ann2@example.com")
    assert api.post("/auth/login", {"email": "ann@example.com", "password": "correct-horse-1"})[0] == 401
    api.register("ann@example.com")  # free again


def test_email_change_to_a_taken_address_is_409(api):
    api.register("taken@example.com")
    me = api.register("ann@example.com")
    status, body = api.put(
        f"/users/{me['user']['user_id']}",
        {"email": "taken@example.com", "current_password": "correct-horse-1"},
        token=me["token"],
    )
    assert status == 409 and body["fields"][0]["field"] == "email"
    assert api.login("ann@example.com")


def test_update_rejects_unknown_and_wrong_typed_fields(api):
    me = api.register("ann@example.com")
    status, body = api.put(f"/users/{me['user']['user_id']}", {"owner_id": "x", "name": 5}, token=me["token"])
    assert status == 400 and {f["field"] for f in body["fields"]} == {"owner_id", "name"}


def test_admin_changes_role_and_the_users_old_token_stops(api, admin_token):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    status, body = api.put(f"/users/{uid}", {"role": "operator", "hotel_ids": ["h9"]}, token=admin_token)
    assert status == 200 and body["role"] == "operator" and body["hotel_ids"] == ["h9"]
    assert api.get("/auth/me", token=me["token"])[0] == 401
    assert api.get("/auth/me", token=api.login("ann@example.com"))[1]["role"] == "operator"


def test_deactivate_stops_tokens_at_once_and_activate_restores_login(api, admin_token):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    status, body = api.patch(f"/users/{uid}/deactivate", token=admin_token)
    assert status == 200 and body["active"] is False
    status, body = api.get("/auth/me", token=me["token"])
    assert status == 401 and body["error"] == "account_deactivated"
    assert api.patch(f"/users/{uid}/activate", token=admin_token)[1]["active"] is True
    assert api.get("/auth/me", token=me["token"])[0] == 401  # old tokens stay dead
    assert api.login("ann@example.com")


def test_admin_cannot_deactivate_or_delete_itself(api, admin_token):
    me = api.get("/auth/me", token=admin_token)[1]
    assert api.patch(f"/users/{me['user_id']}/deactivate", token=admin_token)[0] == 409
    assert api.delete(f"/users/{me['user_id']}", token=admin_token)[0] == 409


def test_delete_removes_the_user_and_frees_the_email(api, admin_token):
    me = api.register("ann@example.com", username="ann")
    uid = me["user"]["user_id"]
    assert api.delete(f"/users/{uid}", token=admin_token)[0] == 200
    assert api.get(f"/users/{uid}", token=admin_token)[0] == 404
    assert api.get("/auth/me", token=me["token"])[0] == 401
    assert api.delete(f"/users/{uid}", token=admin_token)[0] == 404
    api.register("ann@example.com", username="ann")


def test_admin_stats_count_users_without_scanning(api, admin_token, dynamodb_calls):
    a = api.register("a@example.com")
    api.register("b@example.com")
    api.patch(f"/users/{a['user']['user_id']}/deactivate", token=admin_token)
    dynamodb_calls.clear()
    status, stats = api.get("/admin/stats", token=admin_token)
    assert status == 200
    assert stats["users"] == {"total": 3, "active": 2}
    assert stats["total_devices"] == 0 and stats["open_alerts"] == 0
    assert set(dynamodb_calls.dynamodb()) == {"GetItem"}


def test_device_statuses_is_an_empty_page_until_devices_exist(api, admin_token):
    status, body = api.get("/admin/devices/statuses", token=admin_token)
    assert status == 200 and body == {"items": [], "count": 0, "next_token": None}


def test_an_authenticated_call_costs_one_dynamodb_read(api, dynamodb_calls):
    token = api.register("ann@example.com")["token"]
    dynamodb_calls.clear()
    assert api.get("/auth/me", token=token)[0] == 200
    assert dynamodb_calls.dynamodb() == ["GetItem"]


def test_email_change_needs_the_current_password_and_ends_other_sessions(api):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    other_session = api.login("ann@example.com")
    status, body = api.put(f"/users/{uid}", {"email": "thief@example.com"}, token=me["token"])
    assert status == 400 and body["error"] == "invalid_current_password", body
    assert [f["field"] for f in body["fields"]] == ["current_password"]
    status, body = api.put(
        f"/users/{uid}", {"email": "thief@example.com", "current_password": "wrong-one-1"}, token=me["token"]
    )
    assert status == 400 and body["error"] == "invalid_current_password"
    assert api.get("/auth/me", token=me["token"])[1]["email"] == "ann@example.com"
    assert api.post("/auth/login", {"email": "thief@example.com", "password": "correct-horse-1"})[0] == 401

    status, body = api.put(
        f"/users/{uid}", {"email": "ann2@example.com", "current_password": "correct-horse-1"}, token=me["token"]
    )
    assert status == 200 and body["email"] == "ann2@example.com" and body["token"], body
    assert api.get("/auth/me", token=other_session)[0] == 401
    assert api.get("/auth/me", token=me["token"])[0] == 401
    assert api.get("/auth/me", token=body["token"])[1]["email"] == "ann2@example.com"
    # The same address again is no change: nothing to confirm.
    assert api.put(f"/users/{uid}", {"email": "ANN2@example.com", "name": "Ann"}, token=body["token"])[0] == 200


def test_an_admin_changes_a_users_email_without_its_password_and_ends_its_sessions(api, admin_token):
    me = api.register("ann@example.com")
    uid = me["user"]["user_id"]
    status, body = api.put(f"/users/{uid}", {"email": "ann.new@example.com"}, token=admin_token)
    assert status == 200 and body["email"] == "ann.new@example.com" and body["token"] is None, body
    assert api.get("/auth/me", token=me["token"])[0] == 401
    assert api.login("ann.new@example.com")
    assert api.get("/auth/me", token=admin_token)[0] == 200
