import math

from django.conf import settings
from rest_framework import serializers

from rigs.models import Gpu, GpuSample, Rig
from rigs.services.ingest import (
    SAMPLE_FIELDS,
    sample_time_problem,
)


class FiniteFloatField(serializers.FloatField):
    """A JSON number: no booleans, no numeric strings, no NaN or infinity."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        value = float(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class GpuSerializer(serializers.ModelSerializer):
    class Meta:
        model = Gpu
        fields = [
            "id",
            "rig",
            "index",
            "kind",
            "pci_bus",
            "name",
            "vendor",
            "memory_mb",
            "last_seen_at",
            "hashrate_hs",
            "temperature_c",
            "memory_temperature_c",
            "fan_pct",
            "power_w",
        ]
        # The device's kind comes from what the miner reports, never from a client.
        read_only_fields = ["kind"]


# The rig's newest figures, as its miner reported them (RigSample says what each one is).
RIG_FIGURE_FIELDS = [
    "hashrate_hs",
    "hashrate_reported_hs",
    "hashrate_devices_hs",
    "power_w",
    "temperature_max_c",
    "gpus_reporting",
    "shares_accepted",
    "shares_rejected",
    "shares_stale",
    "shares_invalid",
]


class RigSerializer(serializers.ModelSerializer):
    gpus = GpuSerializer(many=True, read_only=True)

    class Meta:
        model = Rig
        fields = [
            "id",
            "farm",
            "name",
            "status",
            "status_reason",
            "status_changed_at",
            "cadence_s",
            "protocol",
            "miner",
            "miner_version",
            "algorithm",
            "pool_url",
            "uptime_s",
            "restarts",
            "last_error",
            "last_error_kind",
            "last_error_at",
            "last_seen_at",
            "last_sample_at",
            *RIG_FIGURE_FIELDS,
            "gpus",
        ]
        read_only_fields = RIG_FIGURE_FIELDS


class GpuSampleSerializer(serializers.ModelSerializer):
    gpu = serializers.IntegerField(source="gpu.index", read_only=True)

    class Meta:
        model = GpuSample
        fields = ["ts", "gpu", *SAMPLE_FIELDS]


class TelemetrySampleSerializer(serializers.Serializer):
    ts = serializers.DateTimeField(
        help_text="When the reading was taken, ISO 8601 (UTC if no zone)."
    )
    gpu = StrictIntegerField(min_value=0, help_text="The GPU's index on the rig.")
    hashrate_hs = FiniteFloatField(min_value=0, help_text="Hashrate in H/s.")
    temperature_c = FiniteFloatField(min_value=-40, max_value=150, required=False, allow_null=True)
    memory_temperature_c = FiniteFloatField(
        min_value=-40, max_value=150, required=False, allow_null=True
    )
    fan_pct = FiniteFloatField(min_value=0, max_value=100, required=False, allow_null=True)
    power_w = FiniteFloatField(min_value=0, max_value=3000, required=False, allow_null=True)
    shares_accepted = StrictIntegerField(min_value=0, required=False, allow_null=True)
    shares_rejected = StrictIntegerField(min_value=0, required=False, allow_null=True)
    shares_stale = StrictIntegerField(min_value=0, required=False, allow_null=True)
    shares_invalid = StrictIntegerField(min_value=0, required=False, allow_null=True)

    def validate_gpu(self, index):
        gpu = self.context["gpus_by_index"].get(index)
        if gpu is None:
            raise serializers.ValidationError(f"This rig has no GPU with index {index}.")
        return gpu

    def validate_ts(self, ts):
        problem = sample_time_problem(ts, self.context["now"])
        if problem:
            raise serializers.ValidationError(f"The timestamp {problem}")
        return ts


class TelemetryBatchSerializer(serializers.Serializer):
    samples = TelemetrySampleSerializer(
        many=True, allow_empty=False, max_length=settings.ETHDASH_MAX_BATCH_SAMPLES
    )

    def validate_samples(self, samples):
        seen = set()
        for position, sample in enumerate(samples):
            key = (sample["gpu"].index, sample["ts"])
            if key in seen:
                raise serializers.ValidationError(
                    f"Sample {position} repeats GPU {key[0]} at {sample['ts'].isoformat()}; "
                    "each GPU may appear once per timestamp."
                )
            seen.add(key)
        return samples


class TelemetryResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    status = serializers.CharField()
