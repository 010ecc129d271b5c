from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Farm
from ethdash.db import finite_check
from ethdash.outbound import validate_host, validate_port

# The float columns a reading reaches, by table.
RIG_FLOATS = (
    "hashrate_median_24h_hs", "hashrate_hs", "hashrate_reported_hs", "hashrate_devices_hs",
    "power_w", "temperature_max_c",
)  # fmt: skip
GPU_FLOATS = ("hashrate_hs", "temperature_c", "memory_temperature_c", "fan_pct", "power_w")
RIG_SAMPLE_FLOATS = RIG_FLOATS[1:]
ROLLUP_METRICS = tuple(
    f"{metric}_{part}" for metric in ("hashrate", "power") for part in ("avg", "min", "max", "last")
)
GPU_ROLLUP_FLOATS = (
    *ROLLUP_METRICS, "temperature_avg", "temperature_min", "temperature_max",
    "temperature_last", "fan_avg",
)  # fmt: skip
RIG_ROLLUP_FLOATS = (*ROLLUP_METRICS, "temperature_max_avg", "temperature_max_max")


class Rig(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New (never reported)"
        ONLINE = "online", "Online"
        DEGRADED = "degraded", "Degraded"
        UNREACHABLE = "unreachable", "Unreachable"
        OFFLINE = "offline", "Offline"

    class Protocol(models.TextChoices):
        PUSH = "", "Agent push (no polling)"
        CLAYMORE = "claymore", "Claymore / PhoenixMiner (JSON-RPC over TCP)"
        ETHMINER = "ethminer", "ethminer (miner_getstatdetail)"
        SGMINER = "sgminer", "TeamRedMiner / sgminer API (TCP)"
        TREX = "trex", "T-Rex (HTTP /summary)"
        LOLMINER = "lolminer", "lolMiner (HTTP API)"
        XMRIG = "xmrig", "xmrig (HTTP /2/summary)"
        GMINER = "gminer", "Gminer (HTTP /stat)"
        NBMINER = "nbminer", "NBMiner (HTTP /api/v1/status)"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="rigs")
    name = models.CharField(max_length=120)
    cadence_s = models.PositiveIntegerField(
        default=30,
        help_text="How often the rig reports or is polled, in seconds; offline after 3 missed.",
    )
    # Polling the miner's own API (LAN deployments); blank protocol: the rig's agent pushes.
    protocol = models.CharField(max_length=20, choices=Protocol.choices, blank=True, default="")
    host = models.CharField(
        max_length=255,
        blank=True,
        validators=[validate_host],
        help_text="The miner API's host or IP.",
    )
    port = models.PositiveIntegerField(null=True, blank=True, validators=[validate_port])
    api_password = models.CharField(
        max_length=200, blank=True, help_text="Claymore/ethminer API password or xmrig token."
    )
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_kind = models.CharField(max_length=20, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    electricity_price_per_kwh = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Overrides the farm's price for this rig.",
    )
    # What the miner says about itself.
    miner = models.CharField(max_length=60, blank=True)
    miner_version = models.CharField(max_length=60, blank=True)
    algorithm = models.CharField(max_length=60, blank=True)
    pool_url = models.CharField(max_length=255, blank=True)
    uptime_s = models.PositiveBigIntegerField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0, help_text="Times the uptime went back.")
    rollups_stale_from = models.DateTimeField(
        null=True, blank=True, help_text="A backfill arrived: rollups from here are rebuilt."
    )
    hashrate_median_24h_hs = models.FloatField(
        null=True, blank=True, help_text="The rig's own 24-hour median, the degraded baseline."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    status_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the server last heard from the rig (UTC)."
    )
    stale_at = models.DateTimeField(
        null=True, blank=True, help_text="Offline if nothing arrives before this time."
    )
    # The newest rig sample, kept on the rig so lists need no time-series query (see RigSample
    # for what each figure is).
    last_sample_at = models.DateTimeField(null=True, blank=True)
    hashrate_hs = models.FloatField(null=True, blank=True)
    hashrate_reported_hs = models.FloatField(null=True, blank=True)
    hashrate_devices_hs = models.FloatField(null=True, blank=True)
    shares_accepted = models.BigIntegerField(null=True, blank=True)
    shares_rejected = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)
    shares_invalid = models.BigIntegerField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    temperature_max_c = models.FloatField(null=True, blank=True)
    gpus_reporting = models.PositiveSmallIntegerField(null=True, blank=True)
    # The Hive OS agent's own protocol (/worker/api): RIG_ID is the rig's id here and RIG_PASSWD
    # a telemetry credential, stored as a hash only and shown once when generated.
    hive_password_hash = models.CharField(max_length=64, blank=True, editable=False)
    hive_password_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    # From the agent's hello: the PCI bus of every GPU it detected, in its detection order, which
    # is the order of the temp, fan and power arrays of its stats (the iGPU included); and what
    # it says about the host.
    hive_detected_buses = models.JSONField(default=list, blank=True, editable=False)
    hive_hello = models.JSONField(default=dict, blank=True, editable=False)
    # The host figures of the newest stats body: free disk, memory, load average.
    hive_host = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "name"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "name"], name="rig_unique_farm_name"),
            finite_check("rig_figures_finite", *RIG_FLOATS),
        ]
        indexes = [models.Index(fields=["status", "stale_at"], name="rig_status_stale")]

    def __str__(self):
        return self.name

    @property
    def is_polled(self):
        return bool(self.protocol)

    # Reading the status. The offline sweep (rigs.services.status) writes "offline" once a rig
    # is past its stale_at, but only while a worker runs it; pages and the API read the status
    # through these, which show an online or degraded rig past its stale_at as offline at once,
    # and write nothing (the sweep still announces the change and opens the alert).

    def is_silent(self, now=None) -> bool:
        """Online or degraded, and nothing arrived before its stale_at."""
        return (
            self.status in (self.Status.ONLINE, self.Status.DEGRADED)
            and self.stale_at is not None
            and self.stale_at < (now or timezone.now())
        )

    @property
    def current_status(self) -> str:
        return self.Status.OFFLINE if self.is_silent() else self.status

    def get_current_status_display(self) -> str:
        return self.Status(self.current_status).label

    @property
    def current_status_reason(self) -> str:
        if not self.is_silent():
            return self.status_reason
        silence_s = self.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES
        return f"Nothing received for {silence_s} s (3 reporting intervals)."

    @property
    def current_status_changed_at(self):
        return self.stale_at if self.is_silent() else self.status_changed_at

    @classmethod
    def online_now(cls, now=None) -> Q:
        """The filter for rigs online now: the same judgement as current_status, in SQL."""
        return Q(status=cls.Status.ONLINE) & (
            Q(stale_at__isnull=True) | Q(stale_at__gte=now or timezone.now())
        )

    @property
    def price_per_kwh(self):
        price = self.electricity_price_per_kwh
        return price if price is not None else self.farm.electricity_price_per_kwh


class Gpu(models.Model):
    """A device of the rig: a GPU, or the CPU where the miner mines on it too (the model keeps
    its historical name). A GPU keeps its identity by PCI bus where the miner gives one (miners
    order GPUs differently, and re-order them after a restart), else by its index."""

    class Kind(models.TextChoices):
        GPU = "gpu", "GPU"
        CPU = "cpu", "CPU"

    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="gpus")
    kind = models.CharField(max_length=3, choices=Kind.choices, default=Kind.GPU)
    index = models.PositiveSmallIntegerField(help_text="The GPU's index on the rig (0-based).")
    pci_bus = models.PositiveSmallIntegerField(null=True, blank=True, help_text="PCI bus number")
    name = models.CharField(max_length=120, blank=True)
    vendor = models.CharField(max_length=40, blank=True)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The newest sample, kept on the GPU so tables need no time-series query.
    hashrate_hs = models.FloatField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    memory_temperature_c = models.FloatField(null=True, blank=True)
    fan_pct = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["rig", "index"]
        constraints = [
            models.UniqueConstraint(fields=["rig", "index"], name="gpu_unique_rig_index"),
            models.UniqueConstraint(
                fields=["rig", "pci_bus"],
                condition=models.Q(pci_bus__isnull=False),
                name="gpu_unique_rig_bus",
            ),
            finite_check("gpu_figures_finite", *GPU_FLOATS),
        ]

    def __str__(self):
        return f"{self.rig} {self.label}" + (f" ({self.name})" if self.name else "")

    @property
    def label(self):
        """ "GPU 2" or "CPU 3": how pages and status reasons name the device."""
        return f"{self.get_kind_display()} {self.index}"


class GpuSample(models.Model):
    """One reading of one GPU. Share counters are cumulative, as the miner reports them."""

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="samples", db_index=False)
    ts = models.DateTimeField()
    hashrate_hs = models.FloatField()
    temperature_c = models.FloatField(null=True, blank=True)
    memory_temperature_c = models.FloatField(null=True, blank=True)
    fan_pct = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    shares_accepted = models.BigIntegerField(null=True, blank=True)
    shares_rejected = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)
    shares_invalid = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gpu", "ts"], name="gpusample_unique_gpu_ts"),
            finite_check("gpusample_finite", *GPU_FLOATS),
        ]
        # The rollup step and the purge read a time range of every GPU's samples.
        indexes = [models.Index(fields=["ts"], name="gpusample_ts")]

    def __str__(self):
        return f"{self.gpu} at {self.ts:%Y-%m-%d %H:%M:%S}"


class RigSample(models.Model):
    """A rig's figures at one instant.

    - hashrate_reported_hs: the miner's own total (null where the miner gives none, and for
      ethdash's own agent format, which sends devices only);
    - hashrate_devices_hs: the sum over the devices that reported then (CPU included);
    - hashrate_hs: the rig's hashrate as the pages show it: the miner's total where it gives
      one, else the device sum (docs/miners.md says why);
    - shares_*: cumulative counters, the miner's totals where it gives them, else the sums of its
      per-device counters, figure by figure;
    - gpus_reporting: devices the miner listed and did not report as off.
    """

    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="samples", db_index=False)
    ts = models.DateTimeField()
    hashrate_hs = models.FloatField()
    hashrate_reported_hs = models.FloatField(null=True, blank=True)
    hashrate_devices_hs = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    temperature_max_c = models.FloatField(null=True, blank=True)
    gpus_reporting = models.PositiveSmallIntegerField()
    shares_accepted = models.BigIntegerField(null=True, blank=True)
    shares_rejected = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)
    shares_invalid = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rig", "ts"], name="rigsample_unique_rig_ts"),
            finite_check("rigsample_finite", *RIG_SAMPLE_FLOATS),
        ]
        indexes = [models.Index(fields=["ts"], name="rigsample_ts")]

    def __str__(self):
        return f"{self.rig} at {self.ts:%Y-%m-%d %H:%M:%S}"


class Resolution(models.TextChoices):
    FIVE_MINUTES = "5m", "5 minutes"
    HOUR = "1h", "1 hour"
    DAY = "1d", "1 day"


class GpuRollup(models.Model):
    """A GPU's samples summarised over one bucket (5 min, 1 h or 1 d starting at ts)."""

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="rollups", db_index=False)
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    ts = models.DateTimeField()
    samples = models.PositiveIntegerField()
    hashrate_avg = models.FloatField()
    hashrate_min = models.FloatField()
    hashrate_max = models.FloatField()
    hashrate_last = models.FloatField()
    temperature_avg = models.FloatField(null=True)
    temperature_min = models.FloatField(null=True)
    temperature_max = models.FloatField(null=True)
    temperature_last = models.FloatField(null=True)
    power_avg = models.FloatField(null=True)
    power_min = models.FloatField(null=True)
    power_max = models.FloatField(null=True)
    power_last = models.FloatField(null=True)
    fan_avg = models.FloatField(null=True)
    # Cumulative counters: their last value in the bucket; rates come from differences.
    shares_accepted_last = models.BigIntegerField(null=True)
    shares_rejected_last = models.BigIntegerField(null=True)
    shares_stale_last = models.BigIntegerField(null=True)
    shares_invalid_last = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gpu", "resolution", "ts"], name="gpurollup_unique_gpu_res_ts"
            ),
            finite_check("gpurollup_finite", *GPU_ROLLUP_FLOATS),
        ]
        # Each coarser resolution is rolled up from a time range of a finer one, every GPU's.
        indexes = [models.Index(fields=["resolution", "ts"], name="gpurollup_res_ts")]

    def __str__(self):
        return f"{self.gpu} {self.resolution} at {self.ts:%Y-%m-%d %H:%M}"


class RigRollup(models.Model):
    rig = models.ForeignKey(Rig, on_delete=models.CASCADE, related_name="rollups", db_index=False)
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    ts = models.DateTimeField()
    samples = models.PositiveIntegerField()
    hashrate_avg = models.FloatField()
    hashrate_min = models.FloatField()
    hashrate_max = models.FloatField()
    hashrate_last = models.FloatField()
    power_avg = models.FloatField(null=True)
    power_min = models.FloatField(null=True)
    power_max = models.FloatField(null=True)
    power_last = models.FloatField(null=True)
    temperature_max_avg = models.FloatField(null=True)
    temperature_max_max = models.FloatField(null=True)
    gpus_reporting_min = models.PositiveSmallIntegerField(null=True)
    # The rig's cumulative share counters (RigSample.shares_*): their last value in the bucket.
    shares_accepted_last = models.BigIntegerField(null=True)
    shares_rejected_last = models.BigIntegerField(null=True)
    shares_stale_last = models.BigIntegerField(null=True)
    shares_invalid_last = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rig", "resolution", "ts"], name="rigrollup_unique_rig_res_ts"
            ),
            finite_check("rigrollup_finite", *RIG_ROLLUP_FLOATS),
        ]
        indexes = [models.Index(fields=["resolution", "ts"], name="rigrollup_res_ts")]

    def __str__(self):
        return f"{self.rig} {self.resolution} at {self.ts:%Y-%m-%d %H:%M}"


class HiveConfig(models.Model):
    """The rig's own Hive OS files, pasted by an owner or manager, which ethdash hands back in
    its answer to the agent's hello (hive/bin/hello writes them over /hive-config/). A file left
    blank is not in the answer: the agent then keeps its wallet.conf and autofan.conf but deletes
    its nvidia-oc.conf and amd-oc.conf, hence `oc_files_confirmed`. RIG_PASSWD is never kept here
    (rigs.services.hive_agent.save_hive_config strips it; the answer puts back the password the
    agent authenticated with)."""

    rig = models.OneToOneField(
        Rig, on_delete=models.CASCADE, primary_key=True, related_name="hive_config"
    )
    rig_conf = models.TextField()
    wallet_conf = models.TextField(blank=True)
    nvidia_oc_conf = models.TextField(blank=True)
    amd_oc_conf = models.TextField(blank=True)
    autofan_conf = models.TextField(blank=True)
    # The owner said the OC files above are the rig's (or that it has none): without it, hello
    # is answered without a configuration, which deletes nothing.
    oc_files_confirmed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Hive OS files of {self.rig}"
