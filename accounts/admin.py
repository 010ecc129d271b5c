from django import forms
from django.contrib import admin, messages

from accounts.models import ApiToken, Farm, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Farm)
class FarmAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "farm", "role", "created_at"]
    list_filter = ["role", "farm"]
    search_fields = ["user__username", "farm__name"]
    autocomplete_fields = ["user", "farm"]


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ["farm", "name", "scopes", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are stored hashed: the admin shows a prefix, never the hash, and the token itself
    only once, right after it is created."""

    form = ApiTokenForm
    list_display = ["name", "farm", "prefix", "scopes", "expires_at", "last_used_at", "created_by"]
    list_filter = ["farm"]
    search_fields = ["name", "prefix", "farm__name"]
    readonly_fields = ["prefix", "last_used_at", "created_by", "created_at"]
    exclude = ["key_hash"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = ApiToken.issue(
            farm=obj.farm,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
            expires_at=obj.expires_at,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(request, f"Token created. Copy it now, it will not be shown again: {raw}")
