"""Request-level limits that hold before any view reads the request."""

import os

from django.conf import settings
from rest_framework.response import Response

from ethdash.api import json_error, wants_json_errors

# What an error answer under /api/ or /worker/ says when Django (not the API) made it.
DJANGO_ERRORS = {
    400: ("Bad request.", "bad_request"),
    403: ("Forbidden.", "permission_denied"),
    404: ("No such path.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    413: ("The request body is too large.", "request_too_large"),
    500: ("Server error.", "server_error"),
}
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class JsonErrorsMiddleware:
    """Every error answer under /api/ and /worker/ is JSON in the API's shape, also when Django
    made it rather than DRF: a path no route matches (404), a method a plain view does not take
    (405), a body Django refused (400), a server error (500). The API's own answers (DRF
    responses, JSON already) pass unchanged, so the browsable API keeps its HTML pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not wants_json_errors(request)
            or isinstance(response, Response)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        detail, code = DJANGO_ERRORS.get(
            response.status_code, (response.reason_phrase + ".", "error")
        )
        answer = json_error(response.status_code, detail, code)
        for header in KEPT_HEADERS:
            if header in response:
                answer[header] = response[header]
        return answer


def _buffered_size(request):
    """The size of a body the server has already buffered: under ASGI, Django reads the whole
    body into a spooled file before the view runs, and a chunked body has no Content-Length
    (DRF then reads none, but request.body would)."""
    stream = getattr(request, "_stream", None)
    if stream is None or not getattr(stream, "seekable", lambda: False)():
        return 0
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


class BodySizeLimitMiddleware:
    """Refuses a body larger than ETHDASH_API_MAX_BODY_BYTES on the API and the Hive OS agent's
    endpoint with 413, in the API's error shape, before anything reads it, so nothing is parsed
    or stored. The limit is read from Content-Length, which every client of these endpoints
    sends (DRF reads no body without it), or under ASGI from the body the server buffered.

    A view that takes larger bodies on purpose says so with a `max_body_bytes` attribute (on
    its class for DRF views): adding 100,000 validators by pubkey is about 10 MB. Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE still bounds every body read through request.body or a form.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not wants_json_errors(request):
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) or _buffered_size(request)
        except ValueError:
            return json_error(400, "Content-Length is not a number.", "bad_request")
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        limit = (
            getattr(view_func, "max_body_bytes", None)
            or getattr(view_class, "max_body_bytes", None)
            or settings.ETHDASH_API_MAX_BODY_BYTES
        )
        if length > limit:
            return json_error(
                413,
                f"The request body is {length:,} bytes; this endpoint takes at most "
                f"{limit:,}. Nothing was read or stored.",
                "request_too_large",
            )
        return None
