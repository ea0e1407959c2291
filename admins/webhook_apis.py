"""The webhook endpoints' API (docs/api.md §23): thin views over admins.webhooks."""

from rest_framework.request import Request
from rest_framework.response import Response

from admins import webhooks as webhook_rules
from admins.apis import AdminApi
from admins.serializers import (
    DeliveryListParams,
    DeliverySerializer,
    EndpointInputSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
)
from common import webhooks
from common.envelope import ok
from common.exceptions import NotFound
from common.models import WebhookEndpoint
from common.pagination import paginate
from common.permissions import requiring
from common.schema import PAGE_PARAMETERS, api_doc

TAGS = ["admin webhooks"]


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
        endpoint, secret = webhook_rules.create_endpoint(self.validated(EndpointInputSerializer), actor=request.user)
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
        return self.shown(
            webhook_rules.update_endpoint(endpoint, changes, actor=request.user), "Webhook endpoint updated"
        )

    @api_doc(summary="Delete a webhook endpoint", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, endpoint_id: str) -> Response:
        webhook_rules.delete_endpoint(self.endpoint(endpoint_id), actor=request.user)
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
        return self.shown(
            endpoint, "Webhook secret rotated", secret=webhook_rules.rotate_secret(endpoint, actor=request.user)
        )


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
