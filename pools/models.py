"""Pools and the farm's accounts on them. Polling, adapters and payouts come with the pools issue;
the models are here so that later work adds fields rather than restructuring."""

from django.db import models

from accounts.models import Farm


class Pool(models.Model):
    class ApiFormat(models.TextChoices):
        OPEN_ETHEREUM_POOL = "open-ethereum-pool", "open-ethereum-pool (2Miners style)"
        MININGCORE = "miningcore", "Miningcore"
        ETHERMINE_V1 = "ethermine-v1", "Ethermine/Flypool v1"
        NANOPOOL_V1 = "nanopool-v1", "Nanopool v1"

    name = models.CharField(max_length=120, unique=True)
    api_format = models.CharField(max_length=30, choices=ApiFormat.choices)
    base_url = models.URLField()
    coin = models.CharField(max_length=20, help_text="Ticker, e.g. ETC")
    coin_decimals = models.PositiveSmallIntegerField(
        default=18, help_text="Decimals of the coin's smallest unit (18 for wei)."
    )
    requests_per_minute = models.PositiveIntegerField(default=30)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PoolAccount(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="pool_accounts")
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="accounts")
    login = models.CharField(max_length=200, help_text="Wallet address or pool login.")
    label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "pool", "login"]
        constraints = [
            models.UniqueConstraint(
                fields=["farm", "pool", "login"], name="poolaccount_unique_farm_pool_login"
            )
        ]

    def __str__(self):
        return self.label or f"{self.login} on {self.pool}"
