"""The alerts pages: the alert list with its actions, rules and channels. Everything is scoped
to the user's farms (accounts.scoping); changes need an owner or manager of the object's farm."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Farm
from accounts.scoping import WRITE_ROLES, farm_ids_for_user
from alerts.filtersets import AlertFilterSet
from alerts.forms import MUTE_CHOICES, AlertRuleForm, MuteForm, NotificationChannelForm
from alerts.models import Alert, AlertRule, NotificationChannel
from alerts.services import actions
from alerts.services.channels import masked, send_test
from ethdash import registry

HISTORY_PAGE_SIZE = 50
DENIED = "Only the farm's owners and managers change its alerts, rules and channels."


def _visible(model, request):
    return model.objects.filter(farm_id__in=farm_ids_for_user(request.user))


def _writable_ids(request):
    return set(farm_ids_for_user(request.user, roles=WRITE_ROLES))


def _check_write(request, obj):
    if obj.farm_id not in _writable_ids(request):
        raise PermissionDenied(DENIED)


def _writable_farms(request):
    farms = Farm.objects.filter(pk__in=_writable_ids(request)).order_by("name")
    if not farms.exists():
        raise PermissionDenied(DENIED)
    return farms


def open_alerts(request):
    """The open alerts of the user's farms, newest first (the overview tile, the nav count)."""
    alerts = actions.visible(_visible(Alert, request)).filter(state=Alert.State.OPEN)
    return alerts.select_related("acknowledged_by").order_by("-opened_at", "-pk")


@login_required
def alert_list(request):
    """Open alerts first, then the history (resolved alerts and events), filtered by kind,
    object type, severity and state."""
    filters = AlertFilterSet(
        request.GET or None,
        queryset=actions.visible(_visible(Alert, request)).select_related("acknowledged_by"),
    )
    listed = filters.qs if filters.is_bound and filters.is_valid() else filters.queryset
    history = listed.filter(state=Alert.State.RESOLVED).order_by("-resolved_at", "-pk")
    page = Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "open": listed.filter(state=Alert.State.OPEN).order_by("-opened_at", "-pk"),
        "history": page,
        "query": query.urlencode(),
        "kinds": registry.alert_kinds(),
        "object_types": sorted({k.object_type for k in registry.alert_kinds()}),
        "writable_ids": _writable_ids(request),
        "mute_choices": MUTE_CHOICES,
        "now": timezone.now(),
    }
    return render(request, "alerts/list.html", context)


def _back(request):
    # Back where the action was taken (the list with its filters, an object's page) when that is
    # this site; otherwise the list.
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("alerts:list")


@login_required
@require_POST
def alert_acknowledge(request, pk):
    alert = get_object_or_404(_visible(Alert, request), pk=pk)
    _check_write(request, alert)
    actions.acknowledge(alert, request.user)
    messages.success(request, f"Acknowledged: {alert.message}")
    return _back(request)


@login_required
@require_POST
def alert_mute(request, pk):
    alert = get_object_or_404(_visible(Alert, request), pk=pk)
    _check_write(request, alert)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Mute for 1 h, 4 h, 24 h or 7 days.")
        return _back(request)
    actions.mute(alert, form.cleaned_data["minutes"])
    until = alert.muted_until.strftime("%Y-%m-%d %H:%M")
    messages.success(request, f"Muted until {until} UTC: {alert.message}")
    return _back(request)


@login_required
def rule_list(request):
    rules = _visible(AlertRule, request).select_related("farm").prefetch_related("channels")
    kinds = {kind.name: kind for kind in registry.alert_kinds()}
    for rule in rules:
        rule.kind_info = kinds.get(rule.kind)
    context = {"rules": rules, "writable_ids": _writable_ids(request)}
    return render(request, "alerts/rules.html", context)


def _form_page(request, form, template, done, what):
    if request.method == "POST" and form.is_valid():
        obj = form.save()
        messages.success(request, f"{what} {obj} saved.")
        return redirect(done)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, "object": form.instance}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def rule_add(request):
    form = AlertRuleForm(request.POST or None, farms=_writable_farms(request))
    return _form_page(request, form, "alerts/rule_form.html", "alerts:rules", "Rule")


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk):
    rule = get_object_or_404(_visible(AlertRule, request), pk=pk)
    _check_write(request, rule)
    form = AlertRuleForm(request.POST or None, instance=rule, farms=Farm.objects.none())
    return _form_page(request, form, "alerts/rule_form.html", "alerts:rules", "Rule")


@login_required
@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(_visible(AlertRule, request), pk=pk)
    _check_write(request, rule)
    rule.delete()
    messages.success(request, f"Rule {rule} deleted, with its alerts.")
    return redirect("alerts:rules")


@login_required
def channel_list(request):
    channels = list(_visible(NotificationChannel, request).select_related("farm"))
    for channel in channels:
        channel.shown_target = masked(channel.target)
    context = {"channels": channels, "writable_ids": _writable_ids(request)}
    return render(request, "alerts/channels.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def channel_add(request):
    form = NotificationChannelForm(request.POST or None, farms=_writable_farms(request))
    return _form_page(request, form, "alerts/channel_form.html", "alerts:channels", "Channel")


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, pk):
    channel = get_object_or_404(_visible(NotificationChannel, request), pk=pk)
    _check_write(request, channel)
    form = NotificationChannelForm(
        request.POST or None, instance=channel, farms=Farm.objects.none()
    )
    return _form_page(request, form, "alerts/channel_form.html", "alerts:channels", "Channel")


@login_required
@require_POST
def channel_delete(request, pk):
    channel = get_object_or_404(_visible(NotificationChannel, request), pk=pk)
    _check_write(request, channel)
    channel.delete()
    messages.success(request, f"Channel {channel} deleted.")
    return redirect("alerts:channels")


@login_required
@require_POST
def channel_test(request, pk):
    channel = get_object_or_404(_visible(NotificationChannel, request), pk=pk)
    _check_write(request, channel)
    ok, detail = send_test(channel)
    if ok:
        messages.success(request, f"Test notification to {channel}: {detail}.")
    else:
        messages.error(request, f"Test notification to {channel} failed: {detail}")
    return redirect("alerts:channels")
