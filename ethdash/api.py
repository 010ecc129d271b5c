"""API conventions shared by every app: the error shape, the pagination classes and the root."""

import re

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.routers import APIRootView
from rest_framework.views import exception_handler as drf_exception_handler

from ethdash.fields import EndpointURLField


def exception_handler(exc, context):
    """Every API error is {"detail": ..., "code": ...}, with DRF's field errors under "errors"."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = {"detail": str(detail), "code": code}
    return response


class ModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose address fields keep the model's outbound rules only: DRF's
    URLField would add Django's URLValidator, which refuses a LAN host such as
    http://beacon:5052 (ethdash.fields)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        EndpointURLField: serializers.CharField,
    }


class ListPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class TimeSeriesPagination(CursorPagination):
    ordering = ("ts", "id")
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


API_PREFIX = "api/v1/"
# A router's list route: "^rigs/$" (regex routes) or "rigs/" (path routes).
_LIST_ROUTE = re.compile(r"^\^?(?P<prefix>[\w-]+)/\$?$")


def api_list_routes(resolver=None):
    """{prefix: url name} of every list endpoint under /api/v1/, read from the URL conf: each
    app includes its own router there by string, and the core imports no app."""
    routes = {}
    for entry in (resolver or get_resolver()).url_patterns:
        if not (isinstance(entry, URLResolver) and str(entry.pattern) == API_PREFIX):
            continue
        for pattern in entry.url_patterns:
            match = _LIST_ROUTE.match(str(pattern.pattern))
            if isinstance(pattern, URLPattern) and match and (pattern.name or "").endswith("-list"):
                routes[match["prefix"]] = pattern.name
    return routes


class ApiRootView(APIRootView):
    """/api/v1/: links to every app's list endpoints, as DRF's DefaultRouter root gives them."""

    def get(self, request, *args, **kwargs):
        self.api_root_dict = api_list_routes()
        return super().get(request, *args, **kwargs)
