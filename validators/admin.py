from django.contrib import admin

from validators.models import BeaconNode, Validator


@admin.register(BeaconNode)
class BeaconNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "farm", "url", "priority"]
    list_filter = ["farm"]
    search_fields = ["name", "url"]


@admin.register(Validator)
class ValidatorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "farm", "index", "pubkey", "created_at"]
    list_filter = ["farm"]
    search_fields = ["pubkey", "label", "index"]
