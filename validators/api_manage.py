"""API that changes what a farm follows: POST /api/v1/validators/add/ and /api/v1/beacon-nodes/.

Writes need a `write` token of the farm, or an owner or manager logged in (403 otherwise); a farm
the caller cannot see is 404, or an invalid choice in a body."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Farm
from accounts.scoping import can_write, farm_ids_for_request, scope_to_farms
from ethdash.api import ListPagination
from validators import tasks_manage
from validators.forms import clean_http_url
from validators.models import BeaconNode
from validators.services import registry

WRITE_DENIED = "Changing a farm needs a write token of the farm, or an owner or manager."


def writable_farm(request, farm_id):
    """The farm a write goes to: the one named, else the only one the caller may change."""
    visible = farm_ids_for_request(request)
    if farm_id is None:
        writable = [pk for pk in visible if can_write(request, pk)]
        if len(writable) > 1:
            raise serializers.ValidationError({"farm": ["Name the farm: you can change several."]})
        if not writable:
            raise PermissionDenied(WRITE_DENIED)
        farm_id = writable[0]
    if farm_id not in visible:
        raise NotFound("No such farm.")
    if not can_write(request, farm_id):
        raise PermissionDenied(WRITE_DENIED)
    return Farm.objects.get(pk=farm_id)


class ValidatorAddSerializer(serializers.Serializer):
    farm = serializers.IntegerField(
        required=False, help_text="Default: the only farm the caller can change."
    )
    ids = serializers.ListField(
        child=serializers.JSONField(),
        help_text="Indices (numbers or decimal strings) and 0x pubkeys (96 hex digits); "
        f"at most {registry.MAX_ENTRIES:,}.",
    )
    group = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text="Created when new."
    )
    label = serializers.CharField(required=False, allow_blank=True, max_length=120)


class AddedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField(allow_null=True)
    pubkey = serializers.CharField()


class SkippedSerializer(serializers.Serializer):
    entry = serializers.CharField()
    reason = serializers.CharField()


class ValidatorAddResultSerializer(serializers.Serializer):
    farm = serializers.IntegerField()
    group = serializers.CharField(allow_null=True)
    created = AddedSerializer(many=True)
    skipped = SkippedSerializer(many=True)


def entry_errors(rejected):
    """Errors keyed by the entry's position in `ids` (0-based), like batch errors elsewhere."""
    errors = {}
    for r in rejected:
        if r.position == 0:
            return [r.reason]
        errors[str(r.position - 1)] = [f"{r.entry!r}: {r.reason}"]
    return errors


class ValidatorAddView(APIView):
    @extend_schema(
        tags=["validators"],
        operation_id="validators_add",
        request=ValidatorAddSerializer,
        responses={
            201: ValidatorAddResultSerializer,
            400: inline_serializer(
                "ValidatorAddError",
                {
                    "detail": serializers.CharField(),
                    "code": serializers.CharField(),
                    "errors": serializers.DictField(),
                },
            ),
        },
    )
    def post(self, request):
        """Adds validators by index or pubkey, all or nothing: any malformed entry answers 400
        with an error per entry and saves nothing. Entries repeated in the list and validators
        the farm already has are skipped. A missing index or pubkey is read from the farm's
        beacon node afterwards."""
        serializer = ValidatorAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        farm = writable_farm(request, data.get("farm"))
        try:
            result = registry.add_validators(
                farm, data["ids"], group=data.get("group") or None, label=data.get("label", "")
            )
        except registry.InvalidEntries as exc:
            raise serializers.ValidationError({"ids": entry_errors(exc.rejected)}) from None
        if result.created:
            transaction.on_commit(lambda: tasks_manage.resolve_farm_validators.delay(farm.pk))
        body = {
            "farm": farm.pk,
            "group": result.group.name if result.group else None,
            "created": [{"id": v.pk, "index": v.index, "pubkey": v.pubkey} for v in result.created],
            "skipped": [{"entry": entry, "reason": reason} for entry, reason in result.skipped],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class BeaconNodeSerializer(serializers.ModelSerializer):
    farm = serializers.IntegerField(
        source="farm_id", required=False, help_text="Default: the only farm the caller can change."
    )
    auth_header = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text='Optional, "Name: value"; never shown again.',
    )
    has_auth_header = serializers.SerializerMethodField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)

    class Meta:
        model = BeaconNode
        fields = [
            "id", "farm", "name", "url", "auth_header", "has_auth_header", "priority", "health",
            "head_slot", "sync_distance", "el_offline", "checked_at", "last_error",
            "last_error_at", "genesis_time", "seconds_per_slot", "slots_per_epoch",
            "epochs_per_sync_period",
        ]  # fmt: skip
        read_only_fields = [
            "health", "head_slot", "sync_distance", "el_offline", "checked_at", "last_error",
            "last_error_at", "genesis_time", "seconds_per_slot", "slots_per_epoch",
            "epochs_per_sync_period",
        ]  # fmt: skip

    def get_has_auth_header(self, node) -> bool:
        return bool(node.auth_header)

    def validate_url(self, value):
        try:
            return clean_http_url(value)
        except DjangoValidationError as exc:
            if exc.code == "bad_address":  # a URL, but not one that can be reached
                raise serializers.ValidationError(exc.messages) from None
            raise serializers.ValidationError("An http or https URL is required.") from None

    def validate_auth_header(self, value):
        try:
            registry.parse_auth_header(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value.strip()


@extend_schema(tags=["validators"])
class BeaconNodeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The beacon nodes of the caller's farms. Creating one asks the node once
    (/eth/v1/node/syncing, /eth/v1/beacon/genesis, /eth/v1/config/spec) and stores its genesis
    and chain constants; a node that does not answer is refused with 400."""

    serializer_class = BeaconNodeSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        return scope_to_farms(BeaconNode.objects.all(), self.request).order_by("farm_id", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        farm = writable_farm(self.request, data.get("farm_id"))
        info, error = registry.try_node(data["url"], data.get("auth_header", ""))
        if error:
            raise serializers.ValidationError({"url": [error]})
        serializer.instance = registry.add_beacon_node(
            farm,
            name=data.get("name", ""),
            url=data["url"],
            auth_header=data.get("auth_header", ""),
            priority=data.get("priority", 0),
            info=info,
        )

    def perform_destroy(self, instance):
        if not can_write(self.request, instance.farm_id):
            raise PermissionDenied(WRITE_DENIED)
        instance.delete()
