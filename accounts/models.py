import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone


class Farm(models.Model):
    """A group of rigs, pool accounts and validators run by the same people."""

    name = models.CharField(max_length=120, unique=True)
    electricity_price_per_kwh = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        # The farm settings page, the admin and the API validate through the model's rules.
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Price of 1 kWh in the farm's currency, for cost per day.",
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[
            RegexValidator(r"^[A-Z]{3}\Z", "Three capital letters: an ISO 4217 code such as EUR.")
        ],
        help_text="ISO 4217 code, e.g. EUR",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="farms"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MANAGER = "manager", "Manager"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "farm"], name="membership_unique_user_farm")
        ]

    def __str__(self):
        return f"{self.user} in {self.farm} ({self.role})"

    @property
    def can_write(self):
        return self.role in (self.Role.OWNER, self.Role.MANAGER)


TOKEN_PREFIX = "edt_"


def hash_token(raw):
    # Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to guess.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A farm's API token. Only its hash is stored; the token itself is shown once, at creation."""

    class Scope(models.TextChoices):
        READ = "read", "Read everything of the farm"
        WRITE = "write", "Change the farm's objects"
        TELEMETRY = "telemetry", "Push rig telemetry"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="api_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, editable=False, help_text="Identifies the token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "name"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, farm, name, scopes, created_by=None, expires_at=None):
        """Creates a token and returns (token, raw): raw is never stored and cannot be recovered."""
        unknown = set(scopes) - set(cls.Scope.values)
        if unknown or not scopes:
            raise ValueError(f"scopes must be a non-empty subset of {cls.Scope.values}")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            farm=farm,
            name=name,
            scopes=sorted(set(scopes)),
            created_by=created_by,
            expires_at=expires_at,
            prefix=raw[:12],
            key_hash=hash_token(raw),
        )
        return token, raw

    def has_scope(self, scope):
        return scope in self.scopes

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()
