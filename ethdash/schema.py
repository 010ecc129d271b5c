"""The OpenAPI schema's generator (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]): drf-spectacular's,
with the error answers of docs/api.md#errors documented on every operation."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from ethdash.api import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input (code invalid, with errors) or a body that is not JSON (parse_error); "
    "nothing was changed.",
    401: "No credentials, or an unknown, malformed or expired token.",
    403: "The token lacks the scope, or the user the role, this needs.",
    404: "No such object, an object of another farm, or no such page.",
    413: "The body is larger than the API takes (ETHDASH_API_MAX_BODY_BYTES); nothing was read.",
}
BODY_METHODS = ("POST", "PUT", "PATCH")
CSV = "text/csv"
CSV_SCHEMA = {
    "type": "string",
    "description": "CSV (?format=csv): a header row, then one row per item, nested fields as "
    "dotted columns; a page's next and previous pages in the Link header (docs/api.md#csv).",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give: 401, 403 and
    404 everywhere (authentication, scopes, farm scoping, pages), 400 where the caller sends a
    body or query parameters, 413 where it sends a body. An operation's own declaration of a
    status wins."""

    def _error_statuses(self):
        statuses = [401, 403, 404]
        if self.method in BODY_METHODS:
            statuses += [400, 413]
        elif any(p["in"] == "query" for p in self._get_parameters()):
            statuses.append(400)
        return sorted(statuses)

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema is not None and isinstance(field, serializers.ListSerializer):
            # A nested list's bounds are checked by DRF outside the field's validators, where
            # drf-spectacular does not look: an empty telemetry batch was documented as valid.
            least = max(field.min_length or 0, 0 if field.allow_empty else 1)
            if least:
                schema["minItems"] = least
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _get_format_parameters(self):
        # `format` (json or csv) is documented for reads; a write answers JSON.
        if self.method != "GET":
            return []
        parameters = super()._get_format_parameters()
        for parameter in parameters:
            # An empty ?format= is no format at all for DRF (JSON, or as Accept asks), not an
            # unknown one: the schema says so rather than promise a refusal.
            parameter["schema"]["enum"] = [*parameter["schema"]["enum"], ""]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code in self._error_statuses():
            code = str(status_code)
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**response, "description": ERROR_DESCRIPTIONS[status_code]}
        for code, response in responses.items():
            content = response.get("content")
            if not content or CSV not in content:
                continue
            if self.method == "GET" and code.startswith("2"):
                content[CSV] = {"schema": CSV_SCHEMA}
            else:
                # Errors are always JSON (ethdash.renderers), and CSV is documented for reads.
                del content[CSV]
        return responses
