"""OPTIONS answers in the envelope too."""

from typing import Any

from rest_framework.metadata import SimpleMetadata

from common.envelope import success_body


class EnvelopeMetadata(SimpleMetadata):
    def determine_metadata(self, request, view) -> dict[str, Any]:
        return success_body(super().determine_metadata(request, view), "Allowed methods and formats")
