from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiToken, Farm, Membership
from ethdash.api import ModelSerializer

# What the price field takes (the model's 8 digits, 4 of them decimals, not negative; "" is
# null): drf-spectacular's own pattern for the field allowed a minus sign.
PRICE_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^(?:[0-9]{1,4}(?:\.[0-9]{0,4})?|\.[0-9]{1,4})?$",
}


class FarmSerializer(ModelSerializer):
    """A farm, its settings and what the caller may do with it."""

    role = serializers.SerializerMethodField(
        help_text="The logged-in caller's role in the farm (owner, manager, viewer); null for a "
        "token."
    )
    scopes = serializers.SerializerMethodField(help_text="A token's scopes; null for a login.")
    can_write = serializers.SerializerMethodField(
        help_text="Whether the caller may change the farm's objects and settings."
    )

    class Meta:
        model = Farm
        fields = [
            "id", "name", "currency", "electricity_price_per_kwh", "created_at", "role",
            "scopes", "can_write",
        ]  # fmt: skip
        read_only_fields = ["id", "name", "created_at"]
        extra_kwargs = {
            "electricity_price_per_kwh": {
                "help_text": "Price of 1 kWh in the farm's currency, a decimal string (up to 4 "
                "decimals, not negative); null: unknown, no electricity cost is shown."
            },
            "currency": {"help_text": "ISO 4217 code: three capital letters, e.g. EUR."},
        }

    def get_fields(self):
        fields = super().get_fields()
        extend_schema_field(PRICE_SCHEMA)(fields["electricity_price_per_kwh"])
        return fields

    def get_role(self, farm) -> str | None:
        return self.context["roles"].get(farm.pk)

    def get_scopes(self, farm) -> list[str] | None:
        return self.context["scopes"]

    def get_can_write(self, farm) -> bool:
        return farm.pk in self.context["writable"]


class MembershipSerializer(ModelSerializer):
    """A user's membership of a farm; only `role` can be changed."""

    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "farm", "username", "role", "created_at"]
        read_only_fields = ["id", "farm", "username", "created_at"]


class ApiTokenSerializer(ModelSerializer):
    """A token as its page lists it: never the token itself, which is shown once at creation and
    not kept, nor its hash."""

    created_by = serializers.SerializerMethodField()
    expired = serializers.BooleanField(source="is_expired", read_only=True)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiToken.Scope.choices), read_only=True
    )

    class Meta:
        model = ApiToken
        fields = [
            "id", "farm", "name", "prefix", "scopes", "created_at", "created_by", "last_used_at",
            "expires_at", "expired",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "prefix": {"help_text": "The token's first 12 characters, to recognise it by."}
        }

    def get_created_by(self, token) -> str | None:
        return token.created_by.get_username() if token.created_by else None
