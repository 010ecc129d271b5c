"""The model field of every outside address a user enters (a node, a relay, a pool). Its rules
are the outbound policy's (ethdash.outbound.url_problem) and nobody else's: Django's
URLValidator wants a public-looking domain and refuses what a LAN uses (a docker-compose service
such as http://beacon:5052, an underscore, an IPv6 literal's neighbours), so it runs nowhere."""

from django import forms
from django.db import models

from ethdash.outbound import validate_http_url, validate_ws_url

VALIDATORS = {("http", "https"): validate_http_url, ("ws", "wss"): validate_ws_url}


class EndpointURLFormField(forms.URLField):
    """A URL input held to the outbound rules only. The text is taken as typed (stripped): no
    scheme is guessed, so "beacon" is refused everywhere rather than becoming http://beacon in
    one form only. `assume_scheme` is passed for Django 5.2, which warns without it."""

    default_validators = []
    to_python = forms.CharField.to_python

    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "http")  # nodes on a LAN are usually plain http
        super().__init__(**kwargs)


class EndpointURLField(models.URLField):
    """A URLField (same column, same admin widget) whose only validator is the outbound one for
    its `schemes`: http(s) by default, ws(s) for a websocket."""

    default_validators = []

    def __init__(self, *args, schemes=("http", "https"), **kwargs):
        self.schemes = tuple(schemes)
        self.default_validators = [VALIDATORS[self.schemes]]
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.schemes != ("http", "https"):
            kwargs["schemes"] = self.schemes
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": EndpointURLFormField, **kwargs})
