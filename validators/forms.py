"""Forms of the validator add page and the beacon nodes page. Each takes `farms`, the farms the
user may change, so a farm of someone else is never a valid choice."""

from django import forms

from ethdash.outbound import validate_destination, validate_http_url
from validators.models import MevRelay
from validators.services.adding import MAX_ENTRIES, InvalidEntries, parse_entries
from validators.services.nodes import parse_auth_header
from validators.services.resolution import normalise_address


class FarmForm(forms.Form):
    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["farm"] = forms.ModelChoiceField(queryset=farms)
        if len(farms) == 1:
            self.fields["farm"].initial = farms[0].pk
        self.order_fields(["farm"])


class ValidatorAddForm(FarmForm):
    entries = forms.CharField(
        label="Validators",
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "class": "entries",  # wide and monospace (ethdash.css): no style attribute
                "placeholder": "12345\n12346, 12347\n0x93247f2209abcacf57b75a51dafae777f9dd38bc…",
            }
        ),
        help_text=f"Indices and 0x pubkeys, one per line or separated by commas or spaces; "
        f"at most {MAX_ENTRIES:,} at a time.",
    )
    group = forms.CharField(
        max_length=120,
        required=False,
        help_text="Optional: an existing group's name, or a new one to create.",
    )
    label = forms.CharField(max_length=120, required=False)

    rejected = ()

    def clean_entries(self):
        text = self.cleaned_data["entries"]
        try:
            self.parsed = parse_entries(text)
        except InvalidEntries as exc:
            self.rejected = exc.rejected
            raise forms.ValidationError(str(exc)) from None
        return text


class DiscoverForm(FarmForm):
    address = forms.CharField(
        label="Withdrawal address",
        max_length=42,
        help_text="Adds every validator whose 0x01 or 0x02 credentials withdraw to this address.",
    )
    group = forms.CharField(max_length=120, required=False)
    label = forms.CharField(max_length=120, required=False)

    def clean_address(self):
        try:
            return normalise_address(self.cleaned_data["address"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not an address: {exc}.") from None


def clean_http_url(value: str) -> str:
    value = value.strip()
    validate_http_url(value)
    return value.rstrip("/")


class BeaconNodeForm(FarmForm):
    name = forms.CharField(max_length=120, required=False, help_text="Default: the URL.")
    url = forms.CharField(
        label="URL",
        max_length=200,
        help_text="Base URL of the node's Beacon API, e.g. http://10.0.0.5:5052",
    )
    auth_header = forms.CharField(
        label="Auth header",
        max_length=500,
        required=False,
        help_text='Optional, sent with every request: "Name: value".',
    )
    priority = forms.IntegerField(
        min_value=0, max_value=32767, initial=0, help_text="Lower is tried first."
    )

    def clean_url(self):
        return clean_http_url(self.cleaned_data["url"])

    def clean_auth_header(self):
        value = self.cleaned_data["auth_header"].strip()
        try:
            parse_auth_header(value)
        except ValueError as exc:
            raise forms.ValidationError(f"Not a header: {exc}.") from None
        return value


class MevRelayForm(FarmForm):
    name = forms.CharField(max_length=120, required=False, help_text="Default: the host name.")
    url = forms.CharField(
        label="URL", max_length=200, help_text="e.g. https://boost-relay.flashbots.net"
    )

    def clean_url(self):
        url = clean_http_url(self.cleaned_data["url"])
        # A relay is only asked later, by the worker: refused here what it would refuse then.
        validate_destination(url)
        return url

    def clean(self):
        data = super().clean()
        farm, url = data.get("farm"), data.get("url")
        if farm and url and MevRelay.objects.filter(farm=farm, url=url).exists():
            self.add_error("url", "This farm already has this relay.")
        return data
