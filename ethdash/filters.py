"""Filters every app's filtersets share."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field


class IdFilter(django_filters.NumberFilter):
    """A primary key: a whole number a 64-bit column holds (NumberFilter takes decimals, and
    -5.8e36 reached the database as an out-of-range integer: a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
        # The schema says what the form field takes: drf-spectacular documents any NumberFilter
        # as a "number", and 0.5 or -1 then counted as valid ids (answered 400).
        schema = {"type": "integer", "minimum": kwargs["min_value"], "maximum": kwargs["max_value"]}
        if self.extra.get("help_text"):
            schema["description"] = str(self.extra["help_text"])
        extend_schema_field(schema)(self)
