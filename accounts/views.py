from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import FarmSettingsForm, TokenForm
from accounts.models import ApiToken, Farm
from accounts.scoping import WRITE_ROLES, farm_ids_for_user


@login_required
def farm_settings(request, pk):
    """A farm's settings, for its owners and managers; others get 404 like any foreign object."""
    farm = get_object_or_404(Farm, pk=pk, pk__in=farm_ids_for_user(request.user, roles=WRITE_ROLES))
    form = FarmSettingsForm(request.POST or None, instance=farm)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Settings of {farm.name} saved.")
        return redirect("farm-settings", pk=farm.pk)
    return render(request, "accounts/farm_settings.html", {"farm": farm, "form": form})


@login_required
def token_list(request):
    """Tokens of the farms the user owns or manages; a new token is shown on this response only,
    since only its hash is kept."""
    managed = Farm.objects.filter(pk__in=farm_ids_for_user(request.user, roles=WRITE_ROLES))
    form = TokenForm(request.POST or None, farms=managed)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = ApiToken.issue(
            farm=form.cleaned_data["farm"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,
        )
        form = TokenForm(farms=managed)
    tokens = ApiToken.objects.filter(farm__in=managed).select_related("farm")
    return render(
        request, "accounts/tokens.html", {"form": form, "tokens": tokens, "new_token": new_token}
    )


@login_required
@require_POST
def token_revoke(request, pk):
    managed = farm_ids_for_user(request.user, roles=WRITE_ROLES)
    token = get_object_or_404(ApiToken, pk=pk, farm__in=managed)
    token.delete()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("token-list")
