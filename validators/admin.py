"""Admin of the validators app. ValidatorEpoch and ValidatorDay are not here: their composite
primary keys are not supported by Django's admin (docs/validators.md)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Farm
from ethdash.admin import ReadOnlyAdmin, ReadStateFilter
from ethdash.outbound import validate_destination

# Imported here, not lazily: every process that sets Django up (a Celery worker included) loads
# the admin, so the worker knows the add page's tasks before its first message arrives.
from validators import tasks
from validators.models import (
    BeaconNode,
    DepositRequest,
    EpochSummary,
    MevRelay,
    Proposal,
    StatusChange,
    SyncDuty,
    Validator,
    ValidatorGroup,
    ValidatorSync,
    Withdrawal,
)
from validators.services import adding
from validators.services.nodes import parse_auth_header


class BeaconNodeForm(forms.ModelForm):
    class Meta:
        model = BeaconNode
        fields = ["farm", "name", "url", "auth_header", "priority"]

    def clean_auth_header(self):
        value = self.cleaned_data["auth_header"].strip()
        try:
            parse_auth_header(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class NodeHealthFilter(ReadStateFilter):
    title, parameter_name = "health", "health"
    field, read_value = "health", BeaconNode.Health.SILENT

    def read_q(self, now):
        return BeaconNode.silent_q(now)


@admin.register(BeaconNode)
class BeaconNodeAdmin(admin.ModelAdmin):
    form = BeaconNodeForm
    list_display = [
        "name", "farm", "url", "priority", "shown_health", "head_slot", "sync_distance",
        "el_offline", "checked_at", "last_error",
    ]  # fmt: skip
    list_filter = [NodeHealthFilter, "el_offline", "farm"]
    search_fields = ["name", "url", "farm__name"]
    list_select_related = ["farm"]
    readonly_fields = [
        "health", "head_slot", "sync_distance", "el_offline", "checked_at", "last_error",
        "last_error_at", "genesis_time", "seconds_per_slot", "slots_per_epoch",
        "epochs_per_sync_period",
    ]  # fmt: skip

    @admin.display(description="health", ordering="health")
    def shown_health(self, node):
        return node.get_current_health_display()


class MevRelayAdminForm(forms.ModelForm):
    class Meta:
        model = MevRelay
        fields = ["farm", "name", "url"]

    def clean_url(self):
        url = self.cleaned_data["url"].strip().rstrip("/")
        validate_destination(url)
        return url


@admin.register(MevRelay)
class MevRelayAdmin(admin.ModelAdmin):
    form = MevRelayAdminForm
    list_display = ["name", "farm", "url"]
    list_filter = ["farm"]
    search_fields = ["name", "url"]
    list_select_related = ["farm"]


@admin.register(ValidatorGroup)
class ValidatorGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "farm", "validator_count"]
    list_filter = ["farm"]
    search_fields = ["name"]
    list_select_related = ["farm"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(validator_count=Count("validators"))

    @admin.display(description="Validators", ordering="validator_count")
    def validator_count(self, group):
        return group.validator_count


class GroupActionForm(helpers.ActionForm):
    group = forms.CharField(
        required=False,
        max_length=120,
        help_text="Group name for 'assign to group' (created per farm when new; empty = none).",
    )


class BulkImportForm(forms.Form):
    farm = forms.ModelChoiceField(queryset=Farm.objects.order_by("name"))
    entries = forms.CharField(
        label="Validators",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100}),
        help_text=f"Indices and 0x pubkeys, one per line or separated by commas or spaces; at "
        f"most {adding.MAX_ENTRIES:,}. One malformed entry and nothing is saved.",
    )
    group = forms.CharField(max_length=120, required=False, help_text="Created when new.")
    label = forms.CharField(max_length=120, required=False)


@admin.register(Validator)
class ValidatorAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "farm", "index", "short_pubkey", "group", "status", "balance", "is_live",
        "last_error",
    ]  # fmt: skip
    list_filter = ["status", "farm", "group", "slashed"]
    search_fields = ["label"]  # index and pubkey: see get_search_results
    search_help_text = "An index, a pubkey (or its start) or a label."
    list_select_related = ["farm", "group"]
    show_full_result_count = False
    list_per_page = 200
    readonly_fields = [
        "created_at", "status", "slashed", "withdrawal_credentials", "balance", "balance_epoch",
        "effective_balance", "activation_epoch", "exit_epoch", "withdrawable_epoch", "last_duty",
        "last_duty_epoch", "is_live", "is_live_epoch", "last_error",
    ]  # fmt: skip
    action_form = GroupActionForm
    actions = ["assign_to_group", "resolve_now"]
    change_list_template = "validators/admin_validator_change_list.html"

    @admin.display(description="Pubkey")
    def short_pubkey(self, validator):
        return validator.pubkey[:14] + "…" if validator.pubkey else "–"

    def get_search_results(self, request, queryset, search_term):
        # An index is matched exactly and a pubkey by prefix, so that searching 100,000 rows
        # uses the unique indexes instead of LIKE over every row.
        term = search_term.strip()
        if term.isdecimal() and int(term) <= adding.MAX_INDEX:
            return queryset.filter(Q(index=int(term)) | Q(label__icontains=term)), False
        if term[:2].lower() == "0x" and len(term) > 2:
            return queryset.filter(pubkey__startswith=term.lower()), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Assign to group (name in the Group box; empty removes)")
    def assign_to_group(self, request, queryset):
        name = request.POST.get("group", "").strip()
        changed = 0
        for farm_id in queryset.order_by().values_list("farm_id", flat=True).distinct():
            group = None
            if name:
                group, _ = ValidatorGroup.objects.get_or_create(farm_id=farm_id, name=name)
            changed += queryset.filter(farm_id=farm_id).update(group=group)
        target = f"the group {name}" if name else "no group"
        self.message_user(request, f"{changed} validator(s) moved to {target}.")

    @admin.action(description="Read missing index or pubkey from the beacon node now")
    def resolve_now(self, request, queryset):
        farm_ids = list(queryset.order_by().values_list("farm_id", flat=True).distinct())
        for farm_id in farm_ids:
            tasks.resolve_farm_validators.delay(farm_id)
        self.message_user(request, f"The beacon node is asked for {len(farm_ids)} farm(s).")

    def get_urls(self):
        bulk = path(
            "bulk-import/",
            self.admin_site.admin_view(self.bulk_import_view),
            name="validators_validator_bulk_import",
        )
        return [bulk, *super().get_urls()]

    def bulk_import_view(self, request):
        """Adds a pasted list to a farm through adding.add_validators (all or nothing;
        it schedules the resolution itself)."""
        if not self.has_add_permission(request):
            return redirect("admin:validators_validator_changelist")
        form = BulkImportForm(request.POST or None)
        rejected = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = adding.add_validators(
                    data["farm"], data["entries"], group=data["group"] or None, label=data["label"]
                )
            except adding.InvalidEntries as exc:
                rejected = exc.rejected
                form.add_error("entries", str(exc))
            else:
                self.message_user(
                    request,
                    f"{len(result.created)} validator(s) added to {data['farm']}, "
                    f"{len(result.skipped)} skipped (repeated or already there).",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:validators_validator_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Bulk import validators",
            "form": form,
            "rejected": rejected[:500],
            "rejected_more": max(0, len(rejected) - 500),
        }
        return TemplateResponse(
            request, "validators/admin_bulk_import.html", context, status=400 if rejected else 200
        )


@admin.register(ValidatorSync)
class ValidatorSyncAdmin(admin.ModelAdmin):
    """Where each farm's epoch processing stands. Only backfill_from may be changed (to fetch
    older epochs: the next run plans the backfill from it); the rest is written by the
    processing."""

    list_display = [
        "farm", "next_epoch", "head_epoch", "behind", "backfill", "node", "processed_at",
        "lease_until", "last_error", "last_error_at",
    ]  # fmt: skip
    list_select_related = ["farm", "node"]
    fields = [
        "farm", "next_epoch", "head_epoch", "backfill_from", "backfill", "backfill_start",
        "backfill_next", "backfill_until", "backfill_note", "lease_until", "sync_period_checked",
        "node", "processed_at", "last_error", "last_error_at",
    ]  # fmt: skip
    readonly_fields = [
        "farm", "next_epoch", "head_epoch", "backfill", "backfill_start", "backfill_next",
        "backfill_until", "backfill_note", "lease_until", "sync_period_checked", "node",
        "processed_at", "last_error", "last_error_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False

    @admin.display(description="Epochs behind")
    def behind(self, sync):
        return sync.behind

    @admin.display(description="Backfill")
    def backfill(self, sync):
        progress = sync.backfill_progress
        if sync.backfill_note:
            return f"{progress} ({sync.backfill_note})" if progress else sync.backfill_note
        return progress or "–"

    def save_model(self, request, obj, form, change):
        if "backfill_from" in form.changed_data:
            # Only the backfill's own columns: the processing may be writing the others.
            obj.restart_backfill()
            ValidatorSync.objects.filter(pk=obj.pk).update(
                backfill_from=obj.backfill_from,
                backfill_start=None,
                backfill_next=None,
                backfill_until=None,
                backfill_note="",
            )


@admin.register(EpochSummary)
class EpochSummaryAdmin(ReadOnlyAdmin):
    list_display = [
        "epoch", "farm", "validators", "active", "income", "attestations_missed", "proposals",
        "proposals_missed", "sync_missed", "skipped", "duration_ms", "requests", "processed_at",
    ]  # fmt: skip
    list_filter = ["farm"]
    search_fields = ["=epoch"]
    list_select_related = ["farm"]


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = [
        "slot", "validator", "outcome", "consensus_reward", "execution", "execution_reward",
        "mev_payment", "relay", "relay_mismatch",
    ]  # fmt: skip
    list_filter = ["outcome", "execution", "relay_mismatch", "validator__farm"]
    search_fields = ["=slot", "block_root", "block_hash"]
    list_select_related = ["validator"]


@admin.register(SyncDuty)
class SyncDutyAdmin(ReadOnlyAdmin):
    list_display = ["period", "validator", "from_epoch", "until_epoch", "slots", "missed", "reward"]
    list_filter = ["validator__farm"]
    search_fields = ["=period"]
    list_select_related = ["validator"]


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["withdrawal_index", "validator", "slot", "epoch", "address", "amount"]
    list_filter = ["validator__farm"]
    search_fields = ["address", "=withdrawal_index"]
    list_select_related = ["validator"]


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["validator", "epoch", "status"]
    list_filter = ["status", "validator__farm"]
    search_fields = ["=epoch"]
    list_select_related = ["validator"]


@admin.register(DepositRequest)
class DepositRequestAdmin(ReadOnlyAdmin):
    """Deposits to the farm's validators seen in Electra blocks, and credits the balance showed
    without one (no slot: requested before the farm's first epoch, or a consolidation).
    credited_epoch empty: still waiting; counted false: closed without adding to a credit."""

    list_display = ["validator", "slot", "position", "amount", "credited_epoch", "counted"]
    list_filter = ["validator__farm", "counted"]
    search_fields = ["=slot"]
    list_select_related = ["validator"]
