from django.apps import AppConfig


class EthdashConfig(AppConfig):
    name = "ethdash"
    verbose_name = "ethdash"
