"""Filters every app's filtersets share."""

import django_filters
from django import forms


class IdFilter(django_filters.NumberFilter):
    """A primary key: a whole number a 64-bit column holds (NumberFilter takes decimals, and
    -5.8e36 reached the database as an out-of-range integer: a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
