from django.contrib import admin

from validators.models import BeaconNode, ExecutionNode, Validator


@admin.register(BeaconNode)
class BeaconNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "farm", "url", "priority"]
    list_filter = ["farm"]
    search_fields = ["name", "url"]


@admin.register(ExecutionNode)
class ExecutionNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "chain_id", "url", "priority"]
    list_filter = ["chain_id"]
    search_fields = ["name", "url"]


@admin.register(Validator)
class ValidatorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "farm", "index", "pubkey", "created_at"]
    list_filter = ["farm"]
    search_fields = ["pubkey", "label", "index"]
