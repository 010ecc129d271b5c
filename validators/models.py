"""Beacon nodes and the farm's validators; execution nodes are shared (ethdash.models). Epoch
processing comes with the validators issue; the models are here so that later work adds fields
rather than restructuring."""

from django.db import models

from accounts.models import Farm


class BeaconNode(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="beacon_nodes")
    name = models.CharField(max_length=120)
    url = models.URLField()
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower is tried first.")

    class Meta:
        ordering = ["farm", "priority", "name"]

    def __str__(self):
        return self.name


class Validator(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="validators")
    index = models.PositiveBigIntegerField(null=True, blank=True)
    pubkey = models.CharField(max_length=98, help_text="0x-prefixed BLS public key")
    label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "index"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "pubkey"], name="validator_unique_farm_pubkey")
        ]

    def __str__(self):
        return self.label or (f"#{self.index}" if self.index is not None else self.pubkey[:12])
