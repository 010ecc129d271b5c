"""CSV answers for every API endpoint (`?format=csv`, a `.csv` suffix, or `Accept: text/csv`),
beside JSON, which stays the default (docs/api.md#csv).

One row per item: a page's `results` (the page's items; the next page in a `Link` header), a
list, or one object. Nested objects are flattened into dotted columns (`pool.name`, `gpus.0.name`).
A parallel-list series (`{"ts": [...], "hashrate_hs": [...]}`) is one row per timestamp. A view
whose body needs its own shape marks the action with `@csv_rows(shape)`; `shape(data)` returns
the rows (dicts). Errors are never CSV: an answer of 400 or more is rendered as JSON."""

from datetime import datetime
from urllib.parse import urlsplit

from rest_framework.renderers import JSONRenderer
from rest_framework_csv.renderers import CSVRenderer as BaseCSVRenderer

# ethdash.api.API_PREFIX; not imported, since DRF's settings import this module while
# ethdash.api is still loading.
API_PREFIX = "api/v1/"


def csv_rows(shape):
    """Marks a view action (under @action) whose body CSV turns into rows with `shape(data)`."""

    def mark(method):
        method.csv_rows = shape
        return method

    return mark


def parallel_rows(series, *, prefix="", keep=()):
    """{ts: [...], name: [...]} as one {prefix + name: value} per timestamp, over the lists as
    long as `ts`; other keys are left out unless named in `keep` (repeated on every row)."""
    times = series.get("ts") or []
    names = [
        name
        for name, values in series.items()
        if name != "ts"
        and isinstance(values, list)
        and len(values) == len(times)
        and not any(isinstance(value, dict | list) for value in values)
    ]
    constant = {f"{prefix}{name}": series.get(name) for name in keep}
    return [
        {"ts": ts, **constant, **{f"{prefix}{name}": series[name][i] for name in names}}
        for i, ts in enumerate(times)
    ]


def rows_by_ts(*row_lists):
    """Rows of several traces merged into one row per timestamp, in time order; a trace without
    a value at a time leaves its columns empty."""
    merged = {}
    columns = {}
    for rows in row_lists:
        for row in rows:
            merged.setdefault(row["ts"], {}).update(row)
            columns.update(dict.fromkeys(row))
    return [
        {column: merged[ts].get(column) for column in columns}
        for ts in sorted(merged, key=_instant)
    ]


def _instant(ts):
    # ISO 8601 strings with and without fractions of a second do not sort as text.
    return datetime.fromisoformat(ts) if isinstance(ts, str) else ts


class CSVRenderer(BaseCSVRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        if response is not None and response.status_code >= 400:
            # DRF renders an error with the renderer the request negotiated (APIView.
            # finalize_response), so ?format=csv would make it CSV: it stays the API's JSON
            # error shape, with its content type.
            response["Content-Type"] = "application/json"
            return JSONRenderer().render(data, "application/json", renderer_context)
        request = renderer_context.get("request")
        if response is not None and request is not None:
            response["Content-Disposition"] = f'attachment; filename="{_filename(request)}"'
            link = _link_header(data)
            if link:
                response["Link"] = link
        view = renderer_context.get("view")
        rows = self.rows(data, view)
        header = None if rows else _empty_header(view)
        body = super().render(rows, accepted_media_type, {**renderer_context, "header": header})
        # An empty body would lose its content type (Response.rendered_content): an empty
        # answer is still a CSV file, of one empty line.
        return body or b"\r\n"

    def rows(self, data, view):
        shape = _shape_of(view)
        if shape is not None:
            return shape(data)
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            return data["results"]
        if isinstance(data, dict) and isinstance(data.get("ts"), list):
            return parallel_rows(data, keep=[k for k in ("resolution",) if k in data])
        if data is None:
            return []
        return data if isinstance(data, list) else [data]

    def tablize(self, data, header=None, labels=None):
        # Columns in the order the fields first appear (the serializer's order), where the
        # library sorts them alphabetically.
        if not header and data:
            data = list(self.flatten_data(data))
            header = list(dict.fromkeys(key for item in data for key in item))
            yield header
            for item in data:
                yield [item.get(key) for key in header]
            return
        yield from super().tablize(data, header=header, labels=labels)

    def flatten_item(self, item):
        # An empty list or object is one empty column rather than none: the header stays the
        # same whatever the row holds.
        if item == [] or item == {}:
            return {"": ""}
        if isinstance(item, str):
            return {"": _inert(item)}
        return super().flatten_item(item)


# A cell a spreadsheet would run as a formula (a rig or channel name a farm member typed):
# prefixed with an apostrophe, as OWASP's advice on CSV injection says. Numbers given as text
# (wei amounts, "-1500") are left as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text):
    if text.startswith(FORMULA_STARTS):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def _shape_of(view):
    action = getattr(view, "action", None)
    method = getattr(view, action, None) if action else None
    return getattr(method, "csv_rows", None) or getattr(view, "csv_rows", None)


def _empty_header(view):
    """An empty list's header: its serializer's fields (not flattened, having no rows)."""
    if getattr(view, "action", None) != "list":
        return None
    return list(view.get_serializer().fields)


def _filename(request):
    """rigs-12-series.csv for /api/v1/rigs/12/series/?format=csv."""
    path = request.path.split(API_PREFIX, 1)[-1].removesuffix(".csv").removesuffix(".json")
    name = "-".join(part for part in path.split("/") if part) or "api"
    return f"{name}.csv"


def _link_header(data):
    """RFC 8288 links to the next and previous pages of a paginated body (the URLs keep
    ?format=csv, since the paginators build them from the request's own URL)."""
    if not isinstance(data, dict) or "results" not in data:
        return ""
    links = []
    for key, rel in (("next", "next"), ("previous", "prev")):
        url = data.get(key)
        if url and urlsplit(url).scheme in ("http", "https"):
            links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)
