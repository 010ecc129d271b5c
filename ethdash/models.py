"""Models shared by several apps. An execution node serves pools (payouts checked on chain) and
validators (execution rewards); apps import the core, never each other, so it lives here."""

from django.db import models

from ethdash.fields import EndpointURLField


class ExecutionNode(models.Model):
    """An EVM JSON-RPC endpoint; several per chain fail over in priority order."""

    name = models.CharField(max_length=120)
    url = EndpointURLField()
    chain_id = models.PositiveBigIntegerField(help_text="61 for Ethereum Classic, 1 for Ethereum.")
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower is tried first.")
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["chain_id", "priority", "name"]

    def __str__(self):
        return f"{self.name} (chain {self.chain_id})"
