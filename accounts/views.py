from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import ApiToken, Membership


class TokenForm(forms.Form):
    farm = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=120)
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC")

    def __init__(self, *args, farms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["farm"].queryset = farms


def _managed_farm_ids(user):
    return Membership.objects.filter(
        user=user, role__in=[Membership.Role.OWNER, Membership.Role.MANAGER]
    ).values_list("farm_id", flat=True)


@login_required
def token_list(request):
    from accounts.models import Farm

    managed = Farm.objects.filter(pk__in=_managed_farm_ids(request.user))
    form = TokenForm(request.POST or None, farms=managed)
    if request.method == "POST" and form.is_valid():
        _, raw = ApiToken.issue(
            farm=form.cleaned_data["farm"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,
        )
        # Shown on this response only: the hash is all that is kept.
        tokens = ApiToken.objects.filter(farm__in=managed).select_related("farm")
        return render(
            request,
            "accounts/tokens.html",
            {"form": TokenForm(farms=managed), "tokens": tokens, "new_token": raw},
        )
    tokens = ApiToken.objects.filter(farm__in=managed).select_related("farm")
    return render(request, "accounts/tokens.html", {"form": form, "tokens": tokens})


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, farm__in=_managed_farm_ids(request.user))
    token.delete()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("token-list")
