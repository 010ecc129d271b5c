from django import forms

from rigs.formats import hiveos_conf

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
