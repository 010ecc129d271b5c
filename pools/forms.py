"""The pools pages' forms."""

from django import forms
from django.core.validators import RegexValidator

from pools.models import Pool


class AccountForm(forms.Form):
    pool = forms.ModelChoiceField(queryset=Pool.objects.all())
    login = forms.CharField(
        max_length=200,
        help_text="Your wallet address or pool login.",
        # It becomes part of the pool's URL: nothing that could change the path or query.
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9._:-]+$",
                "A wallet address or login has only letters, digits and . _ : -",
            )
        ],
    )
    label = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["farm"] = forms.ModelChoiceField(queryset=farms)
        self.order_fields(["farm", "pool", "login", "label"])
