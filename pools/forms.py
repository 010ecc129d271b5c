"""The pools pages' forms."""

from django import forms
from django.core.validators import RegexValidator

from ethdash.fields import EndpointURLFormField
from ethdash.outbound import validate_http_url
from pools.models import KnownPool, Pool

CUSTOM = "custom"
CUSTOM_FIELDS = ("api_format", "base_url", "pool_id", "coin", "coin_decimals")


class AccountForm(forms.Form):
    """A farm's account on a pool: a known pool, a pool the user's farms already use, or a
    custom address with its format (tested before it is saved)."""

    pool = forms.ChoiceField(label="Pool")
    api_format = forms.ChoiceField(
        label="Format of a custom pool", choices=Pool.ApiFormat.choices, required=False
    )
    base_url = EndpointURLFormField(
        label="Custom pool address",
        required=False,
        validators=[validate_http_url],
        help_text="e.g. https://etc.example-pool.org, without /api. Tested before it is saved.",
    )
    pool_id = forms.CharField(
        label="Miningcore pool id", max_length=60, required=False, help_text="e.g. etc1"
    )
    coin = forms.CharField(
        label="Coin of a custom pool",
        max_length=20,
        required=False,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "A ticker: letters and digits.")],
    )
    coin_decimals = forms.IntegerField(
        label="Decimals of the coin's smallest unit", min_value=0, max_value=30, initial=18,
        required=False,
    )  # fmt: skip
    login = forms.CharField(
        max_length=200,
        help_text="Your wallet address or pool login.",
        # It becomes part of the pool's URL: nothing that could change the path or query.
        validators=[
            RegexValidator(
                r"^(?!\.+$)[A-Za-z0-9._:-]+$",
                "A wallet address or login has only letters, digits and . _ : -",
            )
        ],
    )
    label = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, farms, pools, **kwargs):
        """`farms`: the farms the user may add accounts to; `pools`: the pools those farms may
        pick (site-wide ones and their own custom ones)."""
        super().__init__(*args, **kwargs)
        self.fields["farm"] = forms.ModelChoiceField(queryset=farms)
        self.pools = pools
        entries = list(KnownPool.objects.all())
        known = [(f"known:{k.key}", f"{k.name} ({k.coin})") for k in entries]
        # A known pool's Pool is picked through its known entry, so it is listed once; so is a
        # site-wide pool at a known address, which becomes that entry's pool when picked.
        addresses = {(k.api_format, k.base_url.rstrip("/"), k.pool_id) for k in entries}
        others = [
            (f"pool:{p.pk}", f"{p.name} ({p.coin})")
            for p in pools.filter(known_pool=None)
            if p.farm_id or (p.api_format, p.base_url.rstrip("/"), p.pool_id) not in addresses
        ]
        self.fields["pool"].choices = [
            ("Known pools", known),
            ("Other pools (this site's and your farms')", others),
            ("Another pool", [(CUSTOM, "Custom: enter its address and format")]),
        ]
        self.order_fields(["farm", "pool", "api_format", "base_url", "pool_id", "coin",
                           "coin_decimals", "login", "label"])  # fmt: skip

    def clean(self):
        data = super().clean()
        choice = data.get("pool", "")
        data["known"] = data["existing"] = None
        if choice == CUSTOM:
            for field in ("api_format", "base_url", "coin"):
                if not data.get(field):
                    self.add_error(field, "Needed for a custom pool.")
            if data.get("api_format") == Pool.ApiFormat.MININGCORE and not data.get("pool_id"):
                self.add_error("pool_id", "A Miningcore pool needs its pool id.")
            data["coin"] = (data.get("coin") or "").upper()
            if data.get("coin_decimals") is None:
                data["coin_decimals"] = 18
        elif choice.startswith("known:"):
            data["known"] = KnownPool.objects.filter(key=choice.removeprefix("known:")).first()
            if data["known"] is None:
                self.add_error("pool", "No such known pool.")
        elif choice.startswith("pool:") and choice.removeprefix("pool:").isdigit():
            pool = self.pools.filter(pk=int(choice.removeprefix("pool:"))).first()
            farm = data.get("farm")
            if pool is None or (pool.farm_id and farm and pool.farm_id != farm.pk):
                self.add_error("pool", "This pool belongs to another farm.")
            data["existing"] = pool
        return data

    def candidate_pool(self):
        """The pool the account would be on, unsaved when it does not exist yet: what a trial
        asks. Known pools are never tested; a custom address is, before anything is saved."""
        data = self.cleaned_data
        if data["existing"] is not None:
            return data["existing"]
        known = data["known"]
        if known is not None:
            return getattr(known, "pool", None) or Pool(
                name=known.name, api_format=known.api_format, base_url=known.base_url,
                pool_id=known.pool_id, coin=known.coin, coin_decimals=known.coin_decimals,
                rate_limit_requests=known.rate_limit_requests,
                rate_limit_window_s=known.rate_limit_window_s,
            )  # fmt: skip
        return Pool(
            name=data["base_url"], api_format=data["api_format"],
            base_url=data["base_url"].rstrip("/"), pool_id=data.get("pool_id") or "",
            coin=data["coin"], coin_decimals=data["coin_decimals"],
        )  # fmt: skip

    def pool_fields(self):
        return [self["farm"], self["pool"]]

    def custom_fields(self):
        return [self[name] for name in CUSTOM_FIELDS]

    def account_fields(self):
        return [self["login"], self["label"]]

    @property
    def is_custom(self):
        return self.cleaned_data.get("pool") == CUSTOM
