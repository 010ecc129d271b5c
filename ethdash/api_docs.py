"""Who may read the OpenAPI schema (/api/schema/) and its Swagger UI (/api/docs/)."""

from django.conf import settings
from rest_framework import permissions, renderers


class ApiDocsPermission(permissions.BasePermission):
    """Anyone when ETHDASH_API_DOCS_PUBLIC is on; otherwise a logged-in user or any valid
    token. Read when the request comes, so the setting needs no import-time wiring."""

    message = "The API schema needs a login or a token (ETHDASH_API_DOCS_PUBLIC is off)."

    def has_permission(self, request, view):
        if settings.ETHDASH_API_DOCS_PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, under the site's Content Security Policy except for styles: DRF's
    templates style elements with `style` attributes and an inline `<style>` of highlighting
    rules, so its pages (and only those) allow inline styles. Scripts stay files of this site."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_replace = {"style-src": ["'self'", "'unsafe-inline'"]}
        return super().render(data, accepted_media_type, renderer_context)


THROTTLED_RESPONSE = {
    "description": "Throttled: the caller is past its rate (docs/api.md, Throttling); wait "
    "Retry-After seconds.",
    "headers": {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 0},
            "description": "Seconds before the next request is counted again.",
        }
    },
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
                "required": ["detail", "code"],
            }
        }
    },
}


def document_throttling(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation may answer 429 (the throttles apply
    to every API view), so the schema says so."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "put", "patch", "post", "delete") and "responses" in operation:
                operation["responses"].setdefault("429", THROTTLED_RESPONSE)
    return result
