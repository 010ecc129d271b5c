"""The API's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]). Its own module, since DRF
imports the parser classes while rest_framework.views is itself being imported."""

import codecs

from rest_framework import exceptions, parsers
from rest_framework.utils import json

# Deeper JSON is refused before any code walks it: no request body of the API nests past a
# few levels, and Python's recursion limit (about 1,000) would otherwise turn a deep body
# into a 500.
MAX_JSON_DEPTH = 64


def _depth_exceeds(value, limit):
    """Whether parsed JSON nests deeper than `limit`, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested too deep for Python's parser (a RecursionError)
    or deeper than MAX_JSON_DEPTH refused as a parse error (400) like any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        parse_constant = json.strict_constant if self.strict else None
        try:
            data = json.load(codecs.getreader(encoding)(stream), parse_constant=parse_constant)
        except RecursionError:
            data = None
            too_deep = True
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        else:
            too_deep = _depth_exceeds(data, MAX_JSON_DEPTH)
        if too_deep:
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            )
        return data
