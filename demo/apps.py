from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`make demo`: seeds a farm across every domain and runs the simulators beside the server.
    It may import the domain apps; the simulators run as subprocesses, never imported."""

    name = "demo"
