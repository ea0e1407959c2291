"""Revocation is seen at once by every server process: it lives in the database."""

import json

import pytest

from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import gunicorn, http

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]


def test_logout_through_one_server_is_refused_at_once_by_another():
    user = UserFactory()
    with gunicorn() as first, gunicorn() as second:
        body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
        status, login = http("POST", f"{first}/auth/login", body, {"Content-Type": "application/json"})
        assert status == 200, login
        auth = {"Authorization": f"Bearer {login['data']['access_token']}"}
        assert http("GET", f"{second}/users/me", headers=auth)[0] == 200
        assert http("POST", f"{first}/auth/logout", headers=auth)[0] == 200
        status, body = http("GET", f"{second}/users/me", headers=auth)
        assert status == 401
        assert body["error"]["code"] == "INVALID_TOKEN"
