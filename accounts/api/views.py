from django.db.models import F, Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import MethodNotAllowed, PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import SAFE_METHODS

from accounts import services
from accounts.api.serializers import ApiTokenSerializer, FarmSerializer, MembershipSerializer
from accounts.filtersets import ApiTokenFilterSet, MembershipFilterSet
from accounts.models import ApiToken, Farm, Membership
from accounts.scoping import WRITE_ROLES, can_write, farm_ids_for_request, farm_ids_for_user
from ethdash.api import ErrorSerializer, ListPagination

FARM_WRITE_DENIED = (
    "Changing a farm's settings needs a write token of the farm, or an owner or manager."
)
MEMBERSHIP_READ_DENIED = "Reading a farm's memberships needs a write token of the farm."
MEMBERSHIP_TOKEN_DENIED = (
    "Memberships are changed by the farm's owners, logged in; a token cannot change them."
)
MEMBERSHIP_OWNER_DENIED = "Only an owner of the farm changes its memberships."
TOKEN_TOKEN_DENIED = (
    "Tokens are managed by the farm's owners and managers, logged in (/accounts/tokens/); "
    "a token cannot list, read or revoke tokens."
)
TOKEN_CREATE_NOT_ALLOWED = (
    "Tokens are created in the browser, on /accounts/tokens/, which shows the new token once; "
    "the API does not create them."
)


def _token(request):
    return request.auth if isinstance(request.auth, ApiToken) else None


@extend_schema(tags=["accounts"])
class FarmViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's farms (a token: its own farm) with their settings and the caller's access.
    PUT and PATCH change the settings (`currency`, `electricity_price_per_kwh`, as the farm
    settings page does) and need a write token of the farm, or an owner or manager. Farms are
    created and deleted in the admin."""

    serializer_class = FarmSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return Farm.objects.filter(pk__in=farm_ids_for_request(self.request))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        token, visible = _token(self.request), farm_ids_for_request(self.request)
        if token is not None:
            roles, writable = {}, {pk for pk in visible if can_write(self.request, pk)}
        else:
            # One query for every farm of the page (can_write would ask once a farm).
            memberships = Membership.objects.filter(user=self.request.user, farm_id__in=visible)
            roles = dict(memberships.values_list("farm_id", "role"))
            writable = {pk for pk, role in roles.items() if role in WRITE_ROLES}
        return context | {
            "roles": roles,
            "scopes": token.scopes if token else None,
            "writable": writable,
        }

    def get_object(self):
        farm = super().get_object()  # a farm the caller cannot see: 404
        # Refused before the body is validated: a caller who may not change the farm gets 403
        # whatever it sent.
        if self.request.method not in SAFE_METHODS and not can_write(self.request, farm.pk):
            raise PermissionDenied(FARM_WRITE_DENIED)
        return farm


@extend_schema(tags=["accounts"])
class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Who belongs to the farms the caller owns, and with which role. A logged-in owner sees
    every membership of the farms it owns and changes `role` (PUT, PATCH) or removes a member
    (DELETE); other members see only their own membership, read-only. A farm always keeps an
    owner: demoting or removing its last owner is 400. A token with the `write` scope reads its
    farm's memberships; no token changes them (tokens are not owners)."""

    serializer_class = MembershipSerializer
    # For the schema's generator, which has no user to filter by (get_queryset is what answers).
    queryset = Membership.objects.none()
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = MembershipFilterSet
    ordering_fields = ["id", "farm", "username", "role", "created_at"]
    ordering = ["farm", "username"]

    def get_queryset(self):
        memberships = Membership.objects.select_related("user").annotate(
            username=F("user__username")
        )
        token = _token(self.request)
        if token is not None:
            return memberships.filter(farm_id=token.farm_id)
        owned = farm_ids_for_user(self.request.user, roles=[Membership.Role.OWNER])
        return memberships.filter(Q(farm_id__in=owned) | Q(user=self.request.user))

    def _check_token_reads(self):
        token = _token(self.request)
        if token is not None and not token.has_scope(ApiToken.Scope.WRITE):
            raise PermissionDenied(MEMBERSHIP_READ_DENIED)

    def list(self, request, *args, **kwargs):
        self._check_token_reads()
        return super().list(request, *args, **kwargs)

    def get_object(self):
        membership = super().get_object()  # another farm's: 404, before any refusal
        self._check_token_reads()
        # Changes are refused before the body is validated: 403 whatever the caller sent.
        if self.request.method not in SAFE_METHODS:
            if _token(self.request) is not None:
                raise PermissionDenied(MEMBERSHIP_TOKEN_DENIED)
            owned = farm_ids_for_user(self.request.user, roles=[Membership.Role.OWNER])
            if membership.farm_id not in owned:
                raise PermissionDenied(MEMBERSHIP_OWNER_DENIED)
        return membership

    def perform_update(self, serializer):
        role = serializer.validated_data.get("role", serializer.instance.role)
        try:
            services.change_role(membership=serializer.instance, role=role)
        except services.LastOwnerError as error:
            raise serializers.ValidationError({"role": [str(error)]}) from None

    def perform_destroy(self, instance):
        try:
            services.remove_membership(membership=instance)
        except services.LastOwnerError as error:
            raise serializers.ValidationError(str(error)) from None


@extend_schema(tags=["accounts"])
@extend_schema_view(
    create=extend_schema(
        request=None,
        responses={405: ErrorSerializer},
        description="Always 405: " + TOKEN_CREATE_NOT_ALLOWED,
    ),
)
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The tokens of the farms the caller owns or manages, as on /accounts/tokens/: never the
    token itself (shown once, at creation, and not kept) nor its hash. DELETE revokes a token
    (it is deleted, as the page's Revoke does; a revoked token is not listed). For logged-in
    owners and managers only: a token gets 403 (another farm's token: 404)."""

    serializer_class = ApiTokenSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ApiTokenFilterSet
    ordering_fields = ["id", "farm", "name", "created_at", "last_used_at", "expires_at"]
    ordering = ["farm", "name"]

    def get_queryset(self):
        tokens = ApiToken.objects.select_related("created_by")
        token = _token(self.request)
        if token is not None:
            # Looked up in its own farm only, so that another farm's token is a 404 as
            # everywhere; every answer to a token is then a 403.
            return tokens.filter(farm_id=token.farm_id)
        return tokens.filter(farm_id__in=farm_ids_for_user(self.request.user, roles=WRITE_ROLES))

    def _refuse_tokens(self):
        if _token(self.request) is not None:
            raise PermissionDenied(TOKEN_TOKEN_DENIED)

    def list(self, request, *args, **kwargs):
        self._refuse_tokens()
        return super().list(request, *args, **kwargs)

    def get_object(self):
        api_token = super().get_object()
        self._refuse_tokens()
        return api_token

    def create(self, request, *args, **kwargs):
        raise MethodNotAllowed(request.method, detail=TOKEN_CREATE_NOT_ALLOWED)
