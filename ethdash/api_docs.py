"""Who may read the OpenAPI schema (/api/schema/) and its Swagger UI (/api/docs/)."""

from django.conf import settings
from rest_framework import permissions


class ApiDocsPermission(permissions.BasePermission):
    """Anyone when ETHDASH_API_DOCS_PUBLIC is on; otherwise a logged-in user or any valid
    token. Read when the request comes, so the setting needs no import-time wiring."""

    message = "The API schema needs a login or a token (ETHDASH_API_DOCS_PUBLIC is off)."

    def has_permission(self, request, view):
        if settings.ETHDASH_API_DOCS_PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated)
