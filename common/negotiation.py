"""Content negotiation that never answers 406: an Accept we cannot satisfy gets JSON."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation

JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


class LenientContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        # What API clients send picks the first renderer (JSON) without parsing media types.
        meta = request.META
        if (
            not format_suffix
            and meta.get("HTTP_ACCEPT", "") in JSON_ACCEPTS
            and "format=" not in meta.get("QUERY_STRING", "")
        ):
            return renderers[0], renderers[0].media_type
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
