"""The accounts pages' forms."""

from django import forms

from accounts.models import ApiToken, Farm


class TokenForm(forms.Form):
    farm = forms.ModelChoiceField(queryset=Farm.objects.none())
    name = forms.CharField(max_length=120)
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC")

    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["farm"].queryset = farms


class FarmSettingsForm(forms.ModelForm):
    class Meta:
        model = Farm
        fields = ["electricity_price_per_kwh", "currency"]
        labels = {"electricity_price_per_kwh": "Electricity price per kWh"}
