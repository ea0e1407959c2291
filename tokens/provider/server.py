"""oauthlib's OpenID Connect server with the ID token on every grant whose scope holds `openid`:
the device grant too (oauthlib gives it only to the code and refresh grants)."""

import json
from typing import Any

from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant
from oauthlib.openid import Server as OpenIDServer

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


class DeviceCodeWithIdToken(DeviceCodeGrant):
    def __init__(self, request_validator: Any, id_tokens: Any) -> None:
        super().__init__(request_validator)
        self.id_tokens = id_tokens  # a grant whose add_id_token needs no code (the refresh grant's)

    def create_token_response(self, request: Any, token_handler: Any) -> tuple[dict, str, int]:
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        token = token_handler.create_token(request, self.refresh_token)
        token = self.id_tokens.add_id_token(token, token_handler, request)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200


class Server(OpenIDServer):
    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.device_code_grant = DeviceCodeWithIdToken(request_validator, self.refresh_grant)
        self._grant_types[DEVICE_CODE] = self.device_code_grant
