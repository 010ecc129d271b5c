import math

from django.conf import settings
from rest_framework import serializers

from ethdash import api
from ethdash.outbound import validate_host, validate_port
from rigs import formats, limits
from rigs.models import Gpu, GpuSample, Rig
from rigs.services.editing import address_problems, kept_password_problem
from rigs.services.ingest import (
    RIG_TOTAL_FIELDS,
    SAMPLE_FIELDS,
    sample_time_problem,
)


class FiniteFloatField(serializers.FloatField):
    """A JSON number: no booleans, no numeric strings, no NaN or infinity."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            value = float(data)
        except OverflowError:  # an integer past the floats (10**400)
            self.fail("invalid")
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


# The rig's newest figures, as its miner reported them (RigSample says what each one is): the
# same set the store keeps per instant and on the rig.
RIG_FIGURE_FIELDS = list(RIG_TOTAL_FIELDS)


class RigSerializer(serializers.ModelSerializer):
    gpus = GpuSerializer(many=True, read_only=True)
    # As of now: a silent rig past its stale_at is offline even before the sweep writes it.
    status = serializers.ChoiceField(
        choices=Rig.Status.choices, source="current_status", read_only=True
    )
    status_reason = serializers.CharField(source="current_status_reason", read_only=True)
    status_changed_at = serializers.DateTimeField(
        source="current_status_changed_at", read_only=True, allow_null=True
    )
    has_api_password = serializers.SerializerMethodField(
        help_text="Whether a miner API password or token is stored; it is never shown."
    )

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
            "host",
            "port",
            "has_api_password",
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

    def get_has_api_password(self, rig) -> bool:
        return bool(rig.api_password)


PASSWORD_HELP = (
    "The miner API's password (Claymore, ethminer) or access token (xmrig); write-only, never "
    "shown. Omitted on PATCH: the stored one is kept; an empty string removes it."
)


class RigWriteSerializer(api.ModelSerializer):
    """A rig added (POST) or changed (PATCH) by its farm: its name, source and cadence. The
    host and port go through the model's validators (ethdash.outbound); a polled rig needs a
    host, and a blank port means the protocol's default."""

    farm = serializers.IntegerField(
        source="farm_id",
        required=False,
        help_text="On POST only; default: the only farm the caller can change.",
    )
    api_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        trim_whitespace=False,
        help_text=PASSWORD_HELP,
    )
    cadence_s = serializers.IntegerField(
        required=False,
        min_value=5,
        max_value=3600,
        help_text="Poll or report interval in seconds (default 30); offline after 3 missed.",
    )

    class Meta:
        model = Rig
        fields = ["farm", "name", "protocol", "host", "port", "api_password", "cadence_s"]
        # The (farm, name) uniqueness is checked by the view once the farm is known.
        validators = []

    def validate(self, attrs):
        instance = self.instance

        def value(name, default=""):
            return attrs.get(name, getattr(instance, name) if instance else default)

        if instance is not None and "farm_id" in attrs and attrs["farm_id"] != instance.farm_id:
            raise serializers.ValidationError({"farm": ["A rig never moves to another farm."]})
        problems = address_problems(value("protocol"), value("host"))
        if problems:
            raise serializers.ValidationError({k: [v] for k, v in problems.items()})
        if "api_password" not in attrs:
            problem = kept_password_problem(
                instance, protocol=value("protocol"), host=value("host"), port=value("port", None)
            )
            if problem:
                raise serializers.ValidationError({"api_password": [problem]})
        return attrs


class DeviceFoundSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the miner's own list.")
    kind = serializers.ChoiceField(
        choices=Gpu.Kind.choices, help_text="gpu, or cpu for a miner mining on the CPU."
    )
    name = serializers.CharField()
    pci_bus = serializers.IntegerField(allow_null=True)
    hashrate_hs = serializers.FloatField(allow_null=True, help_text="H/s")
    temperature_c = serializers.FloatField(allow_null=True, help_text="°C")


class ConnectionTrialSerializer(serializers.Serializer):
    """What one poll of a miner found, or why it failed (rigs.services.trial.Trial)."""

    ok = serializers.BooleanField(help_text="The miner answered and its answer was read.")
    protocol = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField(help_text="The port asked (the protocol's default if blank).")
    miner = serializers.CharField()
    version = serializers.CharField()
    algorithm = serializers.CharField()
    pool_url = serializers.CharField()
    uptime_s = serializers.IntegerField(allow_null=True)
    hashrate_hs = serializers.FloatField(
        allow_null=True, help_text="The miner's own total in H/s, else the devices' sum."
    )
    devices = DeviceFoundSerializer(many=True)
    error_kind = serializers.CharField(
        help_text="Empty when ok; else dns, refused, timeout, auth, bad_answer, "
        "forbidden_address, miner_error, ..."
    )
    error = serializers.CharField(help_text="What went wrong, fit to show the user.")


class ConnectionTestSerializer(serializers.Serializer):
    # The model's choices but the agent push (the same ProtocolEnum in the schema): an
    # agent-push rig has nothing to test.
    protocol = serializers.ChoiceField(
        choices=[(value, label) for value, label in Rig.Protocol.choices if value]
    )
    host = serializers.CharField(max_length=255, validators=[validate_host])
    port = serializers.IntegerField(
        required=False, allow_null=True, validators=[validate_port], help_text="Blank: default"
    )
    api_password = serializers.CharField(
        required=False, allow_blank=True, max_length=200, trim_whitespace=False,
        help_text="Omitted with `rig`: that rig's stored password is used.",
    )  # fmt: skip
    rig = serializers.IntegerField(
        required=False, help_text="A rig of the caller's farms whose stored password to use."
    )

    def validate_protocol(self, protocol):
        if protocol not in formats.PROTOCOLS:
            raise serializers.ValidationError("A rig whose agent pushes has no miner API to test.")
        return protocol


class RigSavedSerializer(RigSerializer):
    connection = ConnectionTrialSerializer(
        read_only=True,
        allow_null=True,
        help_text="The poll made before saving a new or re-addressed polled rig, else null. A "
        "rig is saved even when its miner does not answer: this says why.",
    )

    class Meta(RigSerializer.Meta):
        fields = [*RigSerializer.Meta.fields, "connection"]


class GpuSampleSerializer(serializers.ModelSerializer):
    gpu = serializers.IntegerField(source="gpu.index", read_only=True)

    class Meta:
        model = GpuSample
        fields = ["ts", "gpu", *SAMPLE_FIELDS]


_SAMPLE_TS = serializers.DateTimeField()


def sample_rows(rows):
    """GpuSampleSerializer's output for rows of GpuSample.objects.values("ts", "gpu__index",
    *SAMPLE_FIELDS): the same keys, order and values (ts through the serializer's own field).
    Why not the serializer: a 500-sample page took 27 ms of CPU through model instances and the
    serializer's fields, most of a samples read under bench/load.py's ingest; this is ~5 ms.
    rigs/tests/test_rig_api.py holds the two to the same answer."""
    ts = _SAMPLE_TS.to_representation
    return [
        {"ts": ts(row["ts"]), "gpu": row["gpu__index"], **{f: row[f] for f in SAMPLE_FIELDS}}
        for row in rows
    ]


class TelemetrySampleSerializer(serializers.Serializer):
    ts = serializers.DateTimeField(
        help_text="When the reading was taken, ISO 8601 (UTC if no zone)."
    )
    gpu = StrictIntegerField(min_value=0, help_text="The GPU's index on the rig.")
    hashrate_hs = FiniteFloatField(
        min_value=0, max_value=limits.HASHRATE_DEVICE_MAX_HS, help_text="Hashrate in H/s."
    )
    temperature_c = FiniteFloatField(
        min_value=limits.TEMPERATURE_MIN_C, max_value=limits.TEMPERATURE_MAX_C,
        required=False, allow_null=True, help_text="°C",
    )  # fmt: skip
    memory_temperature_c = FiniteFloatField(
        min_value=limits.TEMPERATURE_MIN_C, max_value=limits.TEMPERATURE_MAX_C,
        required=False, allow_null=True, help_text="°C",
    )  # fmt: skip
    fan_pct = FiniteFloatField(
        min_value=0, max_value=limits.FAN_MAX_PCT, required=False, allow_null=True, help_text="%"
    )
    power_w = FiniteFloatField(
        min_value=0, max_value=limits.POWER_DEVICE_MAX_W, required=False, allow_null=True,
        help_text="W",
    )  # fmt: skip
    shares_accepted = StrictIntegerField(
        min_value=0, max_value=limits.COUNT_MAX, required=False, allow_null=True
    )
    shares_rejected = StrictIntegerField(
        min_value=0, max_value=limits.COUNT_MAX, required=False, allow_null=True
    )
    shares_stale = StrictIntegerField(
        min_value=0, max_value=limits.COUNT_MAX, required=False, allow_null=True
    )
    shares_invalid = StrictIntegerField(
        min_value=0, max_value=limits.COUNT_MAX, required=False, allow_null=True
    )

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


class _NotPlain(Exception):
    """A sample the fast path does not judge: the serializer does, with its messages."""


def _number_check(field):
    """A check of one number field of TelemetrySampleSerializer, with the field's own type,
    bounds and nullability, so the fast path knows no limit of its own."""
    whole = isinstance(field, serializers.IntegerField)
    low, high = field.min_value, field.max_value

    def check(value):
        if value is None:
            if field.allow_null:
                return None
            raise _NotPlain
        kind = type(value)
        if kind is not int and (whole or kind is not float):
            raise _NotPlain  # bool, str, a float for a whole number: the serializer says why
        if not whole:
            if kind is int and not -(2**53) <= value <= 2**53:
                raise _NotPlain  # float() could overflow or round: the serializer judges it
            value = float(value)
            if not math.isfinite(value):
                raise _NotPlain
        if (low is not None and value < low) or (high is not None and value > high):
            raise _NotPlain
        return value

    return check


_FAST_CHECKS = None


def _fast_checks():
    global _FAST_CHECKS
    if _FAST_CHECKS is None:
        fields = TelemetrySampleSerializer().fields
        _FAST_CHECKS = (
            {name: _number_check(f) for name, f in fields.items() if name not in ("ts", "gpu")},
            {name for name, f in fields.items() if f.required},
            fields["ts"],
        )
    return _FAST_CHECKS


def plain_telemetry_samples(data, *, gpus_by_index, now):
    """The validated samples of a batch that TelemetryBatchSerializer would accept, judged
    without it, or None when anything is unusual (an error, an unknown key, a value out of
    range): the serializer then judges the batch and words the errors.

    Why: the serializer's 80-sample batch took 5.6 ms, a third of a push's CPU, and under
    bench/load.py's ingest the web processes' cores decide the reads' tail. This accepts only
    what the serializer accepts (tests/test_telemetry_fast_path.py holds the two together); each
    distinct timestamp string is parsed once, by the serializer's own field."""
    samples = data.get("samples") if type(data) is dict else None
    if type(samples) is not list or not 0 < len(samples) <= settings.ETHDASH_MAX_BATCH_SAMPLES:
        return None
    if len(data) != 1:
        return None
    checks, required, ts_field = _fast_checks()
    times = {}
    seen = set()
    validated = []
    try:
        for sample in samples:
            if type(sample) is not dict or not required <= sample.keys():
                raise _NotPlain
            out = {}
            for name, value in sample.items():
                if name == "ts":
                    if type(value) is not str:
                        raise _NotPlain
                    ts = times.get(value)
                    if ts is None:
                        try:
                            ts = ts_field.run_validation(value)
                        except serializers.ValidationError:
                            raise _NotPlain from None
                        if sample_time_problem(ts, now):
                            raise _NotPlain
                        times[value] = ts
                    out["ts"] = ts
                elif name == "gpu":
                    gpu = gpus_by_index.get(value) if type(value) is int else None
                    if gpu is None:
                        raise _NotPlain
                    out["gpu"] = gpu
                else:
                    check = checks.get(name)
                    if check is None:
                        raise _NotPlain  # a key the serializer would ignore
                    out[name] = check(value)
            key = (out["gpu"].index, out["ts"])
            if key in seen:
                raise _NotPlain
            seen.add(key)
            validated.append(out)
    except _NotPlain:
        return None
    return validated


class TelemetryResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    status = serializers.CharField()
