"""The OpenAPI schema's generator (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]): drf-spectacular's,
with the error answers of docs/api.md#errors documented on every operation."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

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

    def _get_format_parameters(self):
        # `format` (json or csv) is documented for reads; a write answers JSON.
        return super()._get_format_parameters() if self.method == "GET" else []

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
