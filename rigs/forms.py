"""The rig form of the pages (add and edit a rig) and the admin's. A miner's API password is
never rendered back: a blank password on an existing rig keeps the stored one."""

from django import forms

from rigs import formats
from rigs.formats import hiveos_conf
from rigs.models import Rig
from rigs.services import editing

DEFAULT_PORTS = ", ".join(
    f"{name} {module.DEFAULT_PORT}" for name, module in sorted(formats.PROTOCOLS.items())
)
KEEP_HELP = "A password is stored: leave blank to keep it, or tick the box below to remove it."
NEW_HELP = "Claymore/ethminer API password or xmrig access token, if the miner has one. "
NEW_HELP += "It is never shown again."


def clear_password_field():
    return forms.BooleanField(required=False, label="Remove the stored password")


class RigFieldsMixin:
    """Shared by the page form and the admin's: the password kept when left blank, the source
    checked as a whole, and which model fields a submission changed."""

    def setup_rig_fields(self):
        password = self.fields["api_password"]
        password.required = False
        password.strip = False  # a miner's password is compared byte for byte
        password.widget = forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        )
        if self.instance.pk and self.instance.api_password:
            password.help_text = KEEP_HELP
            self.fields.setdefault("clear_api_password", clear_password_field())
        else:
            password.help_text = NEW_HELP
        if "port" in self.fields:
            self.fields["port"].help_text = f"Blank: the protocol's default ({DEFAULT_PORTS})."
        self._before = self._model_values() if self.instance.pk else {}

    def _model_values(self):
        names = [n for n in self.fields if n != "clear_api_password"]
        return {n: self.instance._meta.get_field(n).value_from_object(self.instance) for n in names}

    def clean(self):
        data = super().clean()
        if not data.get("api_password") and self.instance.pk:
            # Blank means "keep"; only the box removes a stored password.
            keep = not data.get("clear_api_password")
            problem = keep and editing.kept_password_problem(
                self.instance,
                protocol=data.get("protocol", self.instance.protocol),
                host=data.get("host", self.instance.host),
                port=data.get("port", self.instance.port),
            )
            if problem:
                self.add_error("api_password", problem)
            data["api_password"] = self.instance.api_password if keep else ""
        protocol, host = data.get("protocol"), data.get("host")
        if protocol is not None and "host" not in self.errors:
            for name, message in editing.address_problems(protocol, host).items():
                self.add_error(name, message)
        return data

    def changed_fields(self):
        """The model fields whose value the submission changed (after is_valid)."""
        after = self._model_values()
        return [name for name, value in after.items() if self._before.get(name) != value]


class RigForm(RigFieldsMixin, forms.ModelForm):
    """A rig added or changed by its farm's owner or manager. `farms`: the farms the user may
    change (a new rig picks one; a rig never moves farm)."""

    cadence_s = forms.IntegerField(
        label="Cadence (s)",
        min_value=5,
        max_value=3600,
        initial=30,
        help_text="How often the miner is polled, or the agent reports; offline after 3 missed.",
    )

    class Meta:
        model = Rig
        fields = ["name", "protocol", "host", "port", "api_password", "cadence_s"]
        labels = {
            "protocol": "Miner API",
            "host": "Host",
            "api_password": "API password or token",
        }

    def __init__(self, *args, farms=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["farm"] = forms.ModelChoiceField(queryset=farms)
            if len(farms) == 1:
                self.fields["farm"].initial = farms[0].pk
            self.order_fields(["farm"])
        self.fields["protocol"].help_text = (
            "The miner program whose API ethdash polls; "
            "“Agent push” for a rig whose agent posts its telemetry."
        )
        self.setup_rig_fields()

    def clean(self):
        data = super().clean()
        farm = data.get("farm") if self.instance.pk is None else self.instance.farm
        name = data.get("name")
        if (
            farm is not None
            and name
            and editing.name_taken(farm.pk, name, exclude_pk=self.instance.pk)
        ):
            self.add_error("name", f"{farm} already has a rig named {name!r}.")
        return data

    def save_rig(self):
        """Saves through rigs.services.editing.save_rig (a new or re-addressed rig is polled at
        once; its miner is tried first). Returns the SavedRig, or None with a form error."""
        rig = self.save(commit=False)
        if rig.pk is None:
            rig.farm = self.cleaned_data["farm"]
        try:
            return editing.save_rig(rig, changed=self.changed_fields())
        except editing.DuplicateName as exc:
            self.add_error("name", str(exc))
            return None


class RigAdminForm(RigFieldsMixin, forms.ModelForm):
    # Declared, so that the admin's fieldsets show it; unticked it changes nothing.
    clear_api_password = clear_password_field()

    class Meta:
        model = Rig
        # The admin decides which fields it shows (its readonly_fields are left out), so a field
        # added to the model appears there as it did before this form.
        fields = "__all__"  # noqa: DJ007

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_rig_fields()


MAX_FILE_CHARS = 64 * 1024  # Hive's files are a few kB; wallet.conf with user configs the most


def _conf_field(label, help_text, *, required=False):
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        strip=False,  # leading spaces and blank lines are the file's own
        max_length=MAX_FILE_CHARS,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90, "spellcheck": "false"}),
    )


class HiveConfigForm(forms.Form):
    """The rig's Hive OS files as pasted from the rig; each one `KEY=value` lines."""

    rig_conf = _conf_field(
        "rig.conf",
        "cat /hive-config/rig.conf. Its RIG_PASSWD value is taken out before saving; ethdash sets "
        "HIVE_HOST_URL, RIG_ID and RIG_PASSWD when it answers.",
        required=True,
    )
    wallet_conf = _conf_field(
        "wallet.conf",
        "cat /hive-config/wallet.conf (the flight sheet). Blank: the rig keeps its own.",
    )
    nvidia_oc_conf = _conf_field(
        "nvidia-oc.conf",
        "cat /hive-config/nvidia-oc.conf. Blank: the agent DELETES the rig's nvidia-oc.conf.",
    )
    amd_oc_conf = _conf_field(
        "amd-oc.conf",
        "cat /hive-config/amd-oc.conf. Blank: the agent DELETES the rig's amd-oc.conf.",
    )
    autofan_conf = _conf_field(
        "autofan.conf", "cat /hive-config/autofan.conf. Blank: the rig keeps its own."
    )
    oc_files_confirmed = forms.BooleanField(
        label="I pasted this rig's nvidia-oc.conf and amd-oc.conf, or it has none of them.",
        help_text="hello deletes an OC file its answer does not carry, exactly as with Hive.",
        required=True,
    )

    def _clean_conf(self, name):
        text = self.cleaned_data[name]
        try:
            hiveos_conf.parse(text)
        except hiveos_conf.ConfError as error:
            raise forms.ValidationError(str(error), code="not_key_value") from error
        return text

    def clean_rig_conf(self):
        return self._clean_conf("rig_conf")

    def clean_wallet_conf(self):
        return self._clean_conf("wallet_conf")

    def clean_nvidia_oc_conf(self):
        return self._clean_conf("nvidia_oc_conf")

    def clean_amd_oc_conf(self):
        return self._clean_conf("amd_oc_conf")

    def clean_autofan_conf(self):
        return self._clean_conf("autofan_conf")
