"""The pages' forms: alert rules and notification channels. A channel's target and secret may
hold a service's token, so neither is ever rendered back: left blank on edit, they are kept."""

from django import forms

from alerts.models import AlertRule, NotificationChannel
from alerts.services import channels as channel_service
from alerts.services import rules as rule_service
from alerts.services.actions import MUTE_MINUTES
from ethdash import registry

MUTE_LABELS = {60: "1 h", 240: "4 h", 1440: "24 h", 10080: "7 days"}
MUTE_CHOICES = [(minutes, MUTE_LABELS[minutes]) for minutes in MUTE_MINUTES]


class MuteForm(forms.Form):
    minutes = forms.TypedChoiceField(choices=MUTE_CHOICES, coerce=int)


def _minutes_field(label, help_text, *, required=False):
    return forms.IntegerField(
        label=label, min_value=0, max_value=60 * 24 * 30, required=required, help_text=help_text
    )


class FarmChoiceMixin:
    """A new object picks one of the farms the user may change (preset when there is one); an
    existing one never moves farm."""

    def add_farm_field(self, farms):
        if self.instance.pk is None:
            self.fields["farm"] = forms.ModelChoiceField(queryset=farms)
            if len(farms) == 1:
                self.fields["farm"].initial = farms[0].pk
            self.order_fields(["farm"])

    def chosen_farm(self):
        if self.instance.pk is not None:
            return self.instance.farm
        return self.cleaned_data.get("farm")


class AlertRuleForm(FarmChoiceMixin, forms.ModelForm):
    kind = forms.ChoiceField(choices=())
    grace_minutes = _minutes_field(
        "Grace (minutes)", "The condition must hold this long before the alert opens."
    )
    window_minutes = _minutes_field("Window (minutes)", "Blank: the kind's default.")
    cooldown_minutes = _minutes_field(
        "Cooldown (minutes)", "No second message about the same object within this time."
    )

    class Meta:
        model = AlertRule
        fields = [
            "kind", "name", "target", "target_id", "threshold", "hysteresis", "grace_count",
            "severity", "enabled", "channels", "daily_cap",
        ]  # fmt: skip
        labels = {
            "target_id": "Group or object id",
            "grace_count": "Consecutive evaluations",
            "daily_cap": "Messages a day at most",
        }
        help_texts = {
            "threshold": "Blank: the kind's default. A yes-or-no kind takes none.",
            "hysteresis": "How far back past the threshold a value must go to resolve.",
            "channels": "None chosen: every channel of the farm.",
        }

    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = registry.alert_kinds()
        self.fields["kind"].choices = [(k.name, k.label) for k in kinds]
        self.kind_help = [
            {"label": k.label, "name": k.name, "unit": k.unit, "help": k.help,
             "summary": rule_service.kind_summary(k)}
            for k in kinds
        ]  # fmt: skip
        self.add_farm_field(farms)
        farm_ids = [self.instance.farm_id] if self.instance.pk else [f.pk for f in farms]
        channels = self.fields["channels"]
        channels.widget = forms.CheckboxSelectMultiple()
        # Set after the widget: the queryset hands its choices to the widget there is.
        channels.queryset = NotificationChannel.objects.filter(farm_id__in=farm_ids)
        channels.required = False
        if self.instance.pk:
            rule = self.instance
            self.initial.update(
                grace_minutes=rule.grace_s // 60,
                window_minutes=rule.window_s // 60 if rule.window_s else None,
                cooldown_minutes=rule.cooldown_s // 60,
            )
        self.order_fields(["farm", "kind", "name", "target", "target_id", "threshold"])

    def clean(self):
        data = super().clean()
        if "kind" in data:
            problems = rule_service.rule_problems(
                kind=data["kind"],
                threshold=data.get("threshold"),
                target=data.get("target") or AlertRule.Target.ALL,
                target_id=data.get("target_id"),
                hysteresis=data.get("hysteresis"),
            )
            for name, message in problems.items():
                self.add_error(name, message)
        farm = self.chosen_farm()
        foreign = [c for c in data.get("channels") or [] if farm is None or c.farm_id != farm.pk]
        if foreign:
            self.add_error("channels", "Only the rule's own farm's channels.")
        return data

    def save(self, commit=True):
        rule = super().save(commit=False)
        if rule.pk is None:
            rule.farm = self.cleaned_data["farm"]
        data = self.cleaned_data
        rule.grace_s = (data.get("grace_minutes") or 0) * 60
        rule.window_s = data["window_minutes"] * 60 if data.get("window_minutes") else None
        rule.cooldown_s = (data.get("cooldown_minutes") or 0) * 60
        if commit:
            rule.save()
            self.save_m2m()
        return rule


class NotificationChannelForm(FarmChoiceMixin, forms.ModelForm):
    target = forms.CharField(max_length=2000, required=False)
    secret = forms.CharField(
        max_length=200,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Webhooks only: each body is signed (HMAC-SHA256) in X-Ethdash-Signature.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "target", "secret", "enabled"]

    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_farm_field(farms)
        target = self.fields["target"]
        if self.instance.pk:
            # Never rendered back: it may hold a token.
            self.initial["target"] = ""
            target.help_text = (
                f"Now {channel_service.masked(self.instance.target)}; leave blank to keep it."
            )
            if self.instance.secret:
                self.fields["secret"].help_text = "A secret is set: leave blank to keep it."
        else:
            target.required = True
            target.help_text = "An e-mail address, a webhook URL (http or https) or an Apprise URL."

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            data["target"] = data.get("target") or self.instance.target
            data["secret"] = data.get("secret") or self.instance.secret
        kind, target = data.get("kind"), data.get("target")
        if kind and target and "target" not in self.errors:
            problem = channel_service.channel_problem(kind, target)
            if problem:
                self.add_error("target", problem)
        farm, name = self.chosen_farm(), data.get("name")
        if farm is not None and name:
            taken = NotificationChannel.objects.filter(farm=farm, name=name)
            if taken.exclude(pk=self.instance.pk).exists():
                self.add_error("name", f"{farm} already has a channel named {name!r}.")
        return data

    def save(self, commit=True):
        channel = super().save(commit=False)
        channel.target = self.cleaned_data["target"].strip()
        channel.secret = self.cleaned_data["secret"]
        if channel.pk is None:
            channel.farm = self.cleaned_data["farm"]
        if commit:
            channel.save()
        return channel
