from rest_framework import serializers

from accounts.scoping import scope_to_farms
from alerts.models import Alert, AlertRule, NotificationChannel
from alerts.services import channels as channel_service
from alerts.services import rules as rule_service
from alerts.services.actions import MAX_MUTE_MINUTES


class AlertSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id", "farm", "rule", "kind", "severity", "state", "event", "object_type", "object_id",
            "object_name", "url", "message", "value", "resolved_value", "opened_at", "resolved_at",
            "acknowledged_at", "acknowledged_by", "muted_until",
        ]  # fmt: skip
        read_only_fields = fields

    def get_acknowledged_by(self, alert) -> str | None:
        user = alert.acknowledged_by
        return user.get_username() if user else None


class MuteSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MUTE_MINUTES,
        help_text="How long no message is sent (the pages offer 60, 240, 1440, 10080).",
    )


class AlertRuleSerializer(serializers.ModelSerializer):
    farm = serializers.IntegerField(
        source="farm_id", required=False, help_text="Default: the only farm the caller can change."
    )
    kind = serializers.CharField(max_length=40, help_text="A registered alert kind's name.")
    channels = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=NotificationChannel.objects.all(),
        help_text="Channel ids of the rule's farm; none: every channel of the farm.",
    )  # fmt: skip

    class Meta:
        model = AlertRule
        fields = [
            "id", "farm", "kind", "name", "target", "target_id", "threshold", "hysteresis",
            "grace_s", "grace_count", "window_s", "severity", "enabled", "channels", "cooldown_s",
            "daily_cap", "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Another farm's channel id is refused as one that does not exist.
            channels = scope_to_farms(NotificationChannel.objects.all(), request)
            self.fields["channels"].child_relation.queryset = channels

    def validate(self, data):
        rule = self.instance

        def value(name, default=None):
            if name in data:
                return data[name]
            return getattr(rule, name) if rule is not None else default

        problems = rule_service.rule_problems(
            kind=value("kind"),
            threshold=value("threshold"),
            target=value("target", AlertRule.Target.ALL),
            target_id=value("target_id"),
            hysteresis=value("hysteresis"),
        )
        if problems:
            raise serializers.ValidationError({k: [v] for k, v in problems.items()})
        if rule is not None and "farm_id" in data and data["farm_id"] != rule.farm_id:
            raise serializers.ValidationError({"farm": ["A rule never moves farm."]})
        return data


class NotificationChannelSerializer(serializers.ModelSerializer):
    farm = serializers.IntegerField(
        source="farm_id", required=False, help_text="Default: the only farm the caller can change."
    )
    target = serializers.CharField(
        write_only=True, max_length=2000,
        help_text="An e-mail address, a webhook or an Apprise URL; write-only (see target_masked).",
    )  # fmt: skip
    target_masked = serializers.SerializerMethodField()
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200,
        help_text="Webhooks: signs each body (HMAC-SHA256); write-only.",
    )  # fmt: skip
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationChannel
        fields = [
            "id", "farm", "name", "kind", "target", "target_masked", "secret", "has_secret",
            "enabled", "failing", "failures", "last_error", "last_error_at", "last_sent_at",
            "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "failing", "failures", "last_error", "last_error_at", "last_sent_at", "created_at",
        ]  # fmt: skip
        # The (farm, name) uniqueness is checked in validate(), where the farm is known.
        validators = []

    def get_target_masked(self, channel) -> str:
        return channel_service.masked(channel.target)

    def get_has_secret(self, channel) -> bool:
        return bool(channel.secret)

    def validate(self, data):
        channel = self.instance
        kind = data.get("kind", channel.kind if channel else None)
        target = data.get("target", channel.target if channel else None)
        if kind and target is not None:
            problem = channel_service.channel_problem(kind, target)
            if problem:
                raise serializers.ValidationError({"target": [problem]})
        if "target" in data:
            data["target"] = data["target"].strip()
        if channel is not None and "farm_id" in data and data["farm_id"] != channel.farm_id:
            raise serializers.ValidationError({"farm": ["A channel never moves farm."]})
        return data


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()
