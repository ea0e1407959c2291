"""The browsable API, without the raw-data forms that would post outside the envelope rules."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """HTML for GET endpoints; the JSON shown is the envelope itself."""

    def show_form_for_method(self, view, method, request, obj):
        return False

    def get_rendered_html_form(self, data, view, method, request):
        return None
