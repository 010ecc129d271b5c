"""The API's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]). Its own module, since DRF
imports the parser classes while rest_framework.views is itself being imported."""

import itertools
import operator
import re

from rest_framework import exceptions, parsers
from rest_framework.utils import json

# Deeper JSON is refused before it is parsed: no request body of the API (nor a Hive OS
# agent's) nests past a few levels.
MAX_JSON_DEPTH = 64


# A JSON string token, escapes included: brackets inside strings are no nesting.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# An opening bracket counts 2, a closing one 0: minus 1 a bracket, the running sum is the depth.
_BRACKET_WEIGHT = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def json_nests_deeper_than(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit`, read from its bytes
    before any parser sees them: CPython's C decoder recurses once per level and can overflow
    the C stack of a thread (a segmentation fault, not a RecursionError) long before 100,000
    levels. Linear, in C iterators: about 0.1 s for 4 MiB of brackets."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    weights = brackets.translate(_BRACKET_WEIGHT)
    return max(map(operator.sub, itertools.accumulate(weights), itertools.count(1))) > limit


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested deeper than MAX_JSON_DEPTH refused as a parse
    error (400), like any other bad JSON, before it is parsed."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        if json_nests_deeper_than(raw):
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            )
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(raw.decode(encoding), parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
