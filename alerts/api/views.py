from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from accounts.scoping import can_write, scope_to_farms, writable_farm
from alerts.api.serializers import (
    AlertRuleSerializer,
    AlertSerializer,
    MuteSerializer,
    NotificationChannelSerializer,
    TestResultSerializer,
)
from alerts.filtersets import AlertFilterSet
from alerts.models import Alert, AlertRule, NotificationChannel
from alerts.services import actions
from alerts.services.channels import send_test
from ethdash.api import ListPagination, OrderingFilter

WRITE_DENIED = "Changing a farm's alerts needs a write token of the farm, or an owner or manager."


def _check_write(request, obj):
    if not can_write(request, obj.farm_id):
        raise PermissionDenied(WRITE_DENIED)


@extend_schema(tags=["alerts"])
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The alerts of the caller's farms: open ones first, then the history (resolved alerts
    and events), newest first. Alerts within their grace (pending) are not listed."""

    serializer_class = AlertSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = AlertFilterSet
    ordering_fields = [
        "id", "opened_at", "resolved_at", "kind", "severity", "state", "object_name",
    ]  # fmt: skip

    def get_queryset(self):
        alerts = scope_to_farms(Alert.objects.select_related("acknowledged_by"), self.request)
        return actions.open_first(actions.visible(alerts))

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def acknowledge(self, request, pk=None, format=None):
        """Records who acknowledged the alert (the first acknowledgement stands)."""
        alert = self.get_object()
        _check_write(request, alert)
        return Response(AlertSerializer(actions.acknowledge(alert, request.user)).data)

    @extend_schema(request=MuteSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def mute(self, request, pk=None, format=None):
        """No message about the alert is sent for `minutes` from now."""
        alert = self.get_object()
        _check_write(request, alert)
        body = MuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(AlertSerializer(actions.mute(alert, body.validated_data["minutes"])).data)


class _FarmObjectViewSet(viewsets.ModelViewSet):
    """Create, change and delete need a write token of the object's farm, or an owner or
    manager; a new object goes to the farm named, else the only one the caller may change."""

    pagination_class = ListPagination
    filter_backends = [OrderingFilter]

    def perform_create(self, serializer):
        farm = writable_farm(
            self.request, serializer.validated_data.pop("farm_id", None), denied=WRITE_DENIED
        )
        self.check_farm(serializer.validated_data, farm.pk)
        serializer.save(farm=farm)

    def perform_update(self, serializer):
        _check_write(self.request, serializer.instance)
        self.check_farm(serializer.validated_data, serializer.instance.farm_id)
        serializer.save()

    def perform_destroy(self, instance):
        _check_write(self.request, instance)
        instance.delete()

    def check_farm(self, data, farm_id):
        pass


@extend_schema(tags=["alerts"])
class AlertRuleViewSet(_FarmObjectViewSet):
    """The alert rules of the caller's farms. `kind` is a registered alert kind; `threshold`
    must lie within the kind's limits, and a yes-or-no kind takes none (null: the kind's
    default). Invalid input is 400 and saves nothing."""

    serializer_class = AlertRuleSerializer
    ordering_fields = ["id", "name", "kind", "severity", "enabled", "created_at"]

    def get_queryset(self):
        rules = scope_to_farms(AlertRule.objects.prefetch_related("channels"), self.request)
        return rules.order_by("farm_id", "kind", "pk")

    def check_farm(self, data, farm_id):
        if any(channel.farm_id != farm_id for channel in data.get("channels", [])):
            raise serializers.ValidationError(
                {"channels": ["Only the rule's own farm's channels."]}
            )


@extend_schema(tags=["alerts"])
class NotificationChannelViewSet(_FarmObjectViewSet):
    """Where the caller's farms' alerts are sent. `target` (it may hold a token) is write-only
    and returned masked as `target_masked`; a bad target is 400 and saves nothing."""

    serializer_class = NotificationChannelSerializer
    ordering_fields = ["id", "name", "kind", "enabled", "failing", "last_sent_at", "created_at"]

    def get_queryset(self):
        return scope_to_farms(NotificationChannel.objects.all(), self.request).order_by(
            "farm_id", "name"
        )

    def check_farm(self, data, farm_id):
        name = data.get("name")
        if name is None:
            return
        taken = NotificationChannel.objects.filter(farm_id=farm_id, name=name)
        instance = getattr(self, "_updating", None)
        if taken.exclude(pk=getattr(instance, "pk", None)).exists():
            raise serializers.ValidationError(
                {"name": ["The farm already has a channel of this name."]}
            )

    def perform_update(self, serializer):
        self._updating = serializer.instance
        super().perform_update(serializer)

    @extend_schema(request=None, responses=TestResultSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def test(self, request, pk=None, format=None):
        """Sends a test notification to the channel; `ok` and `detail` say what happened."""
        channel = self.get_object()
        _check_write(request, channel)
        ok, detail = send_test(channel)
        return Response({"ok": ok, "detail": detail})
