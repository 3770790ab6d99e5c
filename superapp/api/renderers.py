"""Renderers for endpoints that answer with files (CSV exports) as well as JSON errors."""
from __future__ import annotations

import json

from rest_framework.renderers import BaseRenderer


class CsvRenderer(BaseRenderer):
    """Lets `Accept: text/csv` negotiate; CSV views return the file themselves, and an error raised
    before that is still written as the JSON error shape."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (bytes, str)):
            return data
        return json.dumps(data, ensure_ascii=False).encode()
