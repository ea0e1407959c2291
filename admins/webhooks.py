"""Webhook endpoints managed by admins (docs/api.md §23): the serializers, the rules and the API.
Delivery itself (signing, the schedule, the address checks) is common.webhooks."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from admins.apis import AdminApi
from common import audit, webhooks
from common.envelope import ok
from common.exceptions import NotFound
from common.middleware import current_request
from common.models import WebhookDelivery, WebhookEndpoint
from common.pagination import paginate
from common.permissions import requiring
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import OutputSerializer

TAGS = ["admin webhooks"]


class EndpointSerializer(OutputSerializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="whsec_...: shown only now; both secrets sign for 24 h after a rotation.")


class DeliverySerializer(OutputSerializer):
    id = serializers.IntegerField()
    event_id = serializers.IntegerField(allow_null=True)
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.STATUSES)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2048)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=["*", *webhooks.EVENTS]), allow_empty=False, max_length=64,
        help_text='Event names of the audit trail, or ["*"] for every event.',
    )  # fmt: skip
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_url(self, value: str) -> str:
        try:
            webhooks.check_url(value)
        except webhooks.UnsafeUrl as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return ["*"] if "*" in value else sorted(set(value))


class DeliveryListParams(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.STATUSES, required=False)


# --- Rules ------------------------------------------------------------------------------------


@transaction.atomic
def create_endpoint(data: dict[str, Any]) -> tuple[WebhookEndpoint, str]:
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint.objects.create(**data, secret=webhooks.seal(secret))
    audit.record("webhook.created", account=_actor(), endpoint_id=endpoint.pk, url=endpoint.url)
    return endpoint, secret


@transaction.atomic
def update_endpoint(endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    for field, value in data.items():
        setattr(endpoint, field, value)
    endpoint.save(update_fields=list(data) or None)
    audit.record("webhook.updated", account=_actor(), endpoint_id=endpoint.pk, fields=sorted(data))
    return endpoint


@transaction.atomic
def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    audit.record("webhook.deleted", account=_actor(), endpoint_id=endpoint.pk, url=endpoint.url)
    endpoint.delete()


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret; the current one keeps signing beside it for 24 hours."""
    secret = webhooks.new_secret()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, webhooks.seal(secret)
    endpoint.previous_secret_expires_at = timezone.now() + webhooks.PREVIOUS_SECRET_SIGNS_FOR
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit.record("webhook.updated", account=_actor(), endpoint_id=endpoint.pk, fields=["secret"])
    return secret


def _actor() -> Any:
    """The admin making the change (the audit event is about it), from the request being served."""
    return getattr(current_request(), "user", None)


# --- API --------------------------------------------------------------------------------------


class WebhookApi(AdminApi):
    def endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.filter(pk=int(endpoint_id)).first()
        if endpoint is None:
            raise NotFound("Webhook endpoint not found")
        return endpoint

    def shown(self, endpoint: WebhookEndpoint, message: str, status: int = 200, secret: str | None = None) -> Response:
        if secret is None:
            return ok(EndpointSerializer(endpoint).data, message, status)
        data = {**EndpointSerializer(endpoint).data, "secret": secret}
        return ok(data, message, status, secret=True)


class WebhookListApi(WebhookApi):
    permission_classes = requiring(GET="common.view_webhookendpoint", POST="common.add_webhookendpoint")
    name = "Webhook endpoints"
    form_serializers = {"POST": EndpointInputSerializer}

    @api_doc(
        summary="List webhook endpoints",
        responses={200: (EndpointSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        page = paginate(
            WebhookEndpoint.objects.order_by("-created_at", "-id"), request.query_params, EndpointSerializer
        )
        return ok(page, "Webhook endpoints retrieved")

    @api_doc(
        summary="Create a webhook endpoint (the secret is shown once)",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer},
        errors=(400, 401, 403, 415),
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        endpoint, secret = create_endpoint(self.validated(EndpointInputSerializer))
        return self.shown(endpoint, "Webhook endpoint created", 201, secret=secret)


class WebhookDetailApi(WebhookApi):
    permission_classes = requiring(GET="common.view_webhookendpoint", PATCH="common.change_webhookendpoint",
                                   DELETE="common.delete_webhookendpoint")  # fmt: skip
    name = "Webhook endpoint"
    form_serializers = {"PATCH": EndpointInputSerializer}

    @api_doc(summary="A webhook endpoint", responses={200: EndpointSerializer}, errors=(401, 403, 404), tags=TAGS)
    def get(self, request: Request, endpoint_id: str) -> Response:
        return self.shown(self.endpoint(endpoint_id), "Webhook endpoint retrieved")

    @api_doc(
        summary="Change a webhook endpoint",
        request=EndpointInputSerializer,
        responses={200: EndpointSerializer},
        errors=(400, 401, 403, 404, 415),
        tags=TAGS,
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        serializer = EndpointInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        return self.shown(update_endpoint(endpoint, changes), "Webhook endpoint updated")

    @api_doc(summary="Delete a webhook endpoint", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, endpoint_id: str) -> Response:
        delete_endpoint(self.endpoint(endpoint_id))
        return ok(None, "Webhook endpoint deleted")


class WebhookRotateApi(WebhookApi):
    permission_classes = requiring("common.change_webhookendpoint")
    name = "Rotate the webhook secret"

    @api_doc(
        summary="A new secret for the endpoint (the old one keeps signing for 24 hours)",
        request=None,
        responses={200: EndpointWithSecretSerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        return self.shown(endpoint, "Webhook secret rotated", secret=rotate_secret(endpoint))


class WebhookTestApi(WebhookApi):
    permission_classes = requiring("common.change_webhookendpoint")
    name = "Send a test event"

    @api_doc(
        summary="Send a webhook.test event to the endpoint now",
        request=None,
        responses={200: DeliverySerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = webhooks.test_delivery(self.endpoint(endpoint_id))
        return ok(DeliverySerializer(delivery).data, "Test event sent")


class WebhookDeliveriesApi(WebhookApi):
    permission_classes = requiring("common.view_webhookendpoint")
    name = "Webhook deliveries"

    @api_doc(
        summary="An endpoint's deliveries with their attempts, newest first",
        responses={200: (DeliverySerializer, True)},
        errors=(400, 401, 403, 404),
        parameters=[*PAGE_PARAMETERS],
        tags=TAGS,
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        params = DeliveryListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        deliveries = endpoint.deliveries.order_by("-created_at", "-id")
        if "status" in params.validated_data:
            deliveries = deliveries.filter(status=params.validated_data["status"])
        return ok(paginate(deliveries, request.query_params, DeliverySerializer), "Deliveries retrieved")


class WebhookRetryApi(WebhookApi):
    permission_classes = requiring("common.change_webhookendpoint")
    name = "Retry a delivery"

    @api_doc(
        summary="Attempt a delivery again now",
        request=None,
        responses={200: DeliverySerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        delivery = self.endpoint(endpoint_id).deliveries.filter(pk=int(delivery_id)).first()
        if delivery is None:
            raise NotFound("Delivery not found")
        webhooks.attempt(delivery.pk, force=True)
        delivery.refresh_from_db()
        return ok(DeliverySerializer(delivery).data, "Delivery attempted")
