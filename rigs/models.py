from django.db import models

from accounts.models import Farm


class Rig(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New (never reported)"
        ONLINE = "online", "Online"
        OFFLINE = "offline", "Offline"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="rigs")
    name = models.CharField(max_length=120)
    cadence_s = models.PositiveIntegerField(
        default=30, help_text="How often the rig reports, in seconds; offline after 3 missed."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the server last heard from the rig (UTC)."
    )
    stale_at = models.DateTimeField(
        null=True, blank=True, help_text="Offline if nothing arrives before this time."
    )
    # The newest rig sample, kept on the rig so lists need no time-series query.
    last_sample_at = models.DateTimeField(null=True, blank=True)
    hashrate_hs = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    temperature_max_c = models.FloatField(null=True, blank=True)
    gpus_reporting = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "name"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "name"], name="rig_unique_farm_name"),
        ]
        indexes = [models.Index(fields=["status", "stale_at"], name="rig_status_stale")]

    def __str__(self):
        return self.name


class Gpu(models.Model):
    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="gpus")
    index = models.PositiveSmallIntegerField(help_text="The GPU's index on the rig (0-based).")
    name = models.CharField(max_length=120, blank=True)
    vendor = models.CharField(max_length=40, blank=True)
    pci_bus = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["rig", "index"]
        constraints = [
            models.UniqueConstraint(fields=["rig", "index"], name="gpu_unique_rig_index"),
        ]

    def __str__(self):
        return f"{self.rig} GPU {self.index}" + (f" ({self.name})" if self.name else "")


class GpuSample(models.Model):
    """One reading of one GPU. Share counters are cumulative, as the miner reports them."""

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="samples", db_index=False)
    ts = models.DateTimeField()
    hashrate_hs = models.FloatField()
    temperature_c = models.FloatField(null=True, blank=True)
    fan_pct = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    shares_accepted = models.BigIntegerField(null=True, blank=True)
    shares_rejected = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gpu", "ts"], name="gpusample_unique_gpu_ts")
        ]

    def __str__(self):
        return f"{self.gpu} at {self.ts:%Y-%m-%d %H:%M:%S}"


class RigSample(models.Model):
    """A rig's totals at one instant, summed over the GPUs that reported then."""

    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="samples", db_index=False)
    ts = models.DateTimeField()
    hashrate_hs = models.FloatField()
    power_w = models.FloatField(null=True, blank=True)
    temperature_max_c = models.FloatField(null=True, blank=True)
    gpus_reporting = models.PositiveSmallIntegerField()
    shares_accepted = models.BigIntegerField(null=True, blank=True)
    shares_rejected = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rig", "ts"], name="rigsample_unique_rig_ts")
        ]

    def __str__(self):
        return f"{self.rig} at {self.ts:%Y-%m-%d %H:%M:%S}"
