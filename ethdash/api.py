"""API conventions shared by every app: the error shape (of DRF's views and of Django's error
views under /api/), the pagination classes and the root. The JSON parser is in
ethdash.parsers, the schema's error answers in ethdash.schema."""

import re

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import exceptions, filters, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.routers import APIRootView
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from ethdash.fields import EndpointURLField

# Paths whose errors are JSON in the API's shape, whatever raised them (Django's 404 for an
# unknown path, a CSRF failure, a 500): the REST API, its schema, and the Hive OS agent's
# endpoint, whose client reads JSON only.
JSON_ERROR_PREFIXES = ("/api/", "/worker/")


def error_body(detail, code, errors=None):
    """The API's one error shape."""
    body = {"detail": str(detail), "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def exception_handler(exc, context):
    """Every API error is {"detail": ..., "code": ...}, with DRF's field errors under "errors"
    (always an object: errors that belong to no field are under "non_field_errors")."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail
        if not isinstance(errors, dict):
            errors = {api_settings.NON_FIELD_ERRORS_KEY: errors}
        response.data = error_body("Invalid input.", "invalid", errors)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(detail, code)
    return response


def wants_json_errors(request):
    return request.path.startswith(JSON_ERROR_PREFIXES)


def json_error(status_code, detail, code):
    return JsonResponse(error_body(detail, code), status=status_code)


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (docs/api.md#errors)."""

    detail = serializers.CharField(help_text="What went wrong, fit to show a user.")
    code = serializers.CharField(
        help_text="Stable: invalid, parse_error, not_authenticated, authentication_failed, "
        "permission_denied, not_found, method_not_allowed, not_acceptable, "
        "unsupported_media_type, request_too_large, ..."
    )
    errors = serializers.DictField(
        required=False,
        help_text='With code "invalid" (400): the errors by field, a list of messages or the '
        "errors of a nested object or list item (keyed by position).",
    )


class ModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose address fields keep the model's outbound rules only: DRF's
    URLField would add Django's URLValidator, which refuses a LAN host such as
    http://beacon:5052 (ethdash.fields)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        EndpointURLField: serializers.CharField,
    }


class StrictPageSize:
    """`page_size` that is not a whole number of at least 1 is a 400, where DRF would quietly
    fall back to the default; a size above `max_page_size` is still cut to it, as documented."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"A whole number from 1 (more than {self.max_page_size:,} gives "
                        f"{self.max_page_size:,})."
                    ]
                }
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
                parameter["description"] = (
                    f"Results per page: default {self.page_size:,}, at most "
                    f"{self.max_page_size:,} (more is cut to that)."
                )
        return parameters


class OrderingFilter(filters.OrderingFilter):
    """DRF's `?ordering=` (a field, `-field` for descending, several comma-separated) over the
    view's explicit `ordering_fields`. A field not among them is ignored, and with none left the
    view's own order stays. The primary key breaks ties, so that pages of a list ordered by a
    field many objects share neither repeat nor skip one. Only the view's list is ordered so.
    A view's `ordering_aliases` maps a
    public name to what it orders by (an annotation, say) where the two differ."""

    def get_ordering(self, request, queryset, view):
        if getattr(view, "action", "list") != "list":
            # An action's own list (samples, days, payouts) keeps its order: a cursor pagination
            # asks the view's ordering filter first, and a field of the list was a 500 there.
            return None
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        aliases = getattr(view, "ordering_aliases", {})
        if aliases:
            ordering = [
                ("-" if term.startswith("-") else "")
                + aliases.get(term.lstrip("-"), term.lstrip("-"))
                for term in ordering
            ]
        if not any(field.lstrip("-") in ("pk", "id") for field in ordering):
            ordering = [*ordering, "pk"]
        return ordering

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = ", ".join(getattr(view, "ordering_fields", None) or [])
        for parameter in parameters:
            if parameter["name"] == self.ordering_param and fields:
                parameter["description"] = (
                    f"Order by {fields}; a leading - reverses, commas give further keys. "
                    "Another field is ignored."
                )
        return parameters


class ListPagination(StrictPageSize, PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class TimeSeriesPagination(StrictPageSize, CursorPagination):
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
