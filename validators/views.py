"""The validators pages: the list with its figures, a validator, a group and their income as
CSV; and the pages that change what the farm follows: adding validators (a pasted list, or every
validator of a withdrawal address) and its beacon nodes and MEV relays. Owners and managers
write; viewers see the nodes read-only; another farm's objects are 404."""

import csv
import datetime as dt
import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from rest_framework.exceptions import AuthenticationFailed

from accounts.api.authentication import BearerTokenAuthentication
from accounts.models import ApiToken, Farm
from accounts.scoping import WRITE_ROLES, farm_ids_for_request, farm_ids_for_user, scope_to_farms
from validators.filtersets import ValidatorFilterSet
from validators.forms import BeaconNodeForm, DiscoverForm, MevRelayForm, ValidatorAddForm
from validators.models import (
    BeaconNode,
    EpochSummary,
    MevRelay,
    Proposal,
    Status,
    SyncDuty,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
    ValidatorSync,
    Withdrawal,
)
from validators.services import adding, nodes, resolution
from validators.services.chain import Flag
from validators.services.figures import (
    CSV_HEADER,
    SortedRows,
    chains_for_farms,
    combine,
    daily_income_rows,
    parse_day_range,
    set_figures,
    set_summary,
    status_history,
    utc_today,
    validator_figures,
    validator_rows,
)

PAGE_SIZE = 100
CHART_EPOCHS = 500  # the list page's per-epoch chart: about two days on mainnet
CHART_DAYS = 365
TIMELINE_LIMIT = 200
COLUMNS = [
    ("index", "Validator"), ("status", "Status"), ("balance", "Balance"), ("today", "Today"),
    ("24h", "24 h"), ("30d", "30 d"), ("apr", "APR 30 d"), ("effectiveness", "Effectiveness"),
    ("last_duty", "Last duty"), ("group", "Group"), ("label", "Label"),
]  # fmt: skip
FLAG_TEXT = {
    Flag.MISSED: "attestation missed",
    Flag.HEAD: "head vote wrong or late",
    Flag.TARGET: "target vote wrong or late",
    Flag.SOURCE: "source vote wrong or late",
    Flag.INACTIVITY: "inactivity penalty",
    Flag.SYNC_MISSED: "sync duty missed",
    Flag.PROPOSAL_MISSED: "proposal missed or orphaned",
    Flag.SLASHED: "slashed",
    Flag.NEGATIVE: "negative income",
    Flag.PENALISED: "penalised after slashing",
}


def visible_validators(request):
    return scope_to_farms(Validator.objects.select_related("group", "farm"), request)


def _status_counts(rows):
    counts = {}
    for row in rows:
        counts[row.validator.status] = counts.get(row.validator.status, 0) + 1
    return [(s.value, s.label, counts[s.value]) for s in Status if counts.get(s.value)]


def _epoch_chart(request):
    """The last epochs' farm totals, one series per farm, for the live chart."""
    farms = []
    for farm_id in farm_ids_for_request(request):
        rows = list(
            EpochSummary.objects.filter(farm_id=farm_id, skipped="")
            .order_by("-epoch")
            .values_list("epoch", "income", "attestation_reward", "attestation_ideal")[
                :CHART_EPOCHS
            ]
        )
        rows.reverse()
        farms.append(
            {
                "farm": farm_id,
                "epoch": [r[0] for r in rows],
                "income_gwei": [r[1] for r in rows],
                "effectiveness": [r[2] / r[3] if r[3] > 0 else None for r in rows],
            }
        )
    return farms


@login_required
def validator_list(request):
    """Every validator of the user's farms with its figures, the farms' totals and the nodes'
    health; the table filters by group and status and sorts by any column.

    Built for a large operator: the totals are SQL aggregates over all the validators, and the
    table is filtered, sorted and cut to a page in SQL, so per-validator figures are computed
    for the page's validators only (validators.services.figures.SortedRows)."""
    validators = visible_validators(request)
    # A malformed filter is left out (FilterSet.qs skips invalid fields), as links are edited.
    shown = ValidatorFilterSet(request.GET, queryset=validators).qs
    farm_ids = farm_ids_for_request(request)
    chains = chains_for_farms(farm_ids)
    rows = SortedRows(shown, request.GET.get("sort", "index"), chains=chains)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    summary = set_summary(validators)
    keep = request.GET.copy()
    keep.pop("page", None)
    keep.pop("sort", None)
    return render(
        request,
        "validators/list.html",
        {
            "page": page,
            "sort": rows.sort,
            "columns": COLUMNS,
            "query": keep.urlencode(),
            "group_filter": request.GET.get("group", ""),
            "status_filter": request.GET.get("status", ""),
            "groups": scope_to_farms(ValidatorGroup.objects.all(), request),
            "statuses": Status.choices,
            "totals": set_figures(validators, chains=chains),
            "status_counts": summary["status_counts"],
            "validator_count": summary["validators"],
            "balance_gwei": summary["balance"],
            "effective_balance_gwei": summary["effective_balance"],
            "nodes": scope_to_farms(BeaconNode.objects.select_related("farm"), request),
            "syncs": scope_to_farms(ValidatorSync.objects.select_related("farm"), request),
            "show_farm": len(farm_ids) > 1,
            "chart_data": {"farms": _epoch_chart(request), "status_labels": dict(Status.choices)},
        },
    )


def _timeline(validator, chain):
    """Imperfect epochs, proposals, sync periods, withdrawals and status changes, newest first."""
    events = []
    for row in ValidatorEpoch.objects.filter(validator=validator).order_by("-epoch")[
        :TIMELINE_LIMIT
    ]:
        reasons = [text for flag, text in FLAG_TEXT.items() if row.flags & flag]
        events.append(
            {
                "epoch": row.epoch,
                "kind": "epoch",
                "text": ", ".join(reasons) or "imperfect epoch",
                "gwei": row.income,
                "bad": True,
            }
        )
    for proposal in Proposal.objects.filter(validator=validator).order_by("-slot")[:TIMELINE_LIMIT]:
        events.append(
            {
                "epoch": proposal.epoch,
                "kind": "proposal",
                "text": f"slot {proposal.slot}: {proposal.get_outcome_display().lower()}",
                "gwei": proposal.consensus_reward if proposal.outcome == "proposed" else None,
                "bad": proposal.outcome in ("missed", "orphaned"),
            }
        )
    for duty in SyncDuty.objects.filter(validator=validator).order_by("-period")[:TIMELINE_LIMIT]:
        events.append(
            {
                "epoch": duty.from_epoch,
                "kind": "sync",
                "text": f"sync committee period {duty.period} (epochs {duty.from_epoch}–"
                f"{duty.until_epoch}): {duty.slots} slots, {duty.missed} missed",
                "gwei": duty.reward,
                "bad": duty.missed > 0,
            }
        )
    for withdrawal in Withdrawal.objects.filter(validator=validator).order_by("-slot")[
        :TIMELINE_LIMIT
    ]:
        events.append(
            {
                "epoch": withdrawal.epoch,
                "kind": "withdrawal",
                "text": f"withdrawal to {withdrawal.address} (slot {withdrawal.slot}; not income)",
                "gwei": withdrawal.amount,
                "bad": False,
            }
        )
    for epoch, status, label in status_history(validator):
        events.append(
            {"epoch": epoch, "kind": "status", "text": f"status: {label}", "gwei": None,
             "bad": status in ("active_slashed", "exited_slashed")}
        )  # fmt: skip
    events.sort(key=lambda e: e["epoch"], reverse=True)
    events = events[:TIMELINE_LIMIT]
    for event in events:
        event["time"] = chain.epoch_time(event["epoch"]) if chain else None
    return events


def _day_chart(validators, *, since):
    """Per day, summed over the validators: end balance (gwei), consensus income (gwei) and
    execution income (wei, as a string: exact). Execution amounts are summed here, not in SQL."""
    by_day = {}
    rows = (
        ValidatorDay.objects.filter(
            validator__in=validators.order_by().values("pk"), day__gte=since
        )
        .order_by("day")
        .values_list("day", "end_balance", "income", "execution_income")
    )
    for day, end_balance, income, execution in rows:
        entry = by_day.setdefault(day, [0, 0, 0])
        entry[0] += end_balance
        entry[1] += income
        entry[2] += int(execution or 0)
    days = sorted(by_day)
    return {
        "day": [d.isoformat() for d in days],
        "balance_gwei": [by_day[d][0] for d in days],
        "consensus_gwei": [by_day[d][1] for d in days],
        "execution_wei": [str(by_day[d][2]) for d in days],
    }


@login_required
def validator_detail(request, pk):
    validator = get_object_or_404(visible_validators(request), pk=pk)
    chain = chains_for_farms([validator.farm_id]).get(validator.farm_id)
    since = utc_today() - dt.timedelta(days=CHART_DAYS)
    chart = _day_chart(Validator.objects.filter(pk=validator.pk), since=since)
    return render(
        request,
        "validators/detail.html",
        {
            "validator": validator,
            "figures": validator_figures(validator),
            "timeline": _timeline(validator, chain),
            "proposals": Proposal.objects.filter(validator=validator).order_by("-slot")[:200],
            "chart_data": {
                "validator": validator.pk,
                "farm": validator.farm_id,
                "status_labels": dict(Status.choices),
                **chart,
            },
        },
    )


@login_required
def group_detail(request, pk):
    group = get_object_or_404(
        scope_to_farms(ValidatorGroup.objects.select_related("farm"), request), pk=pk
    )
    members = visible_validators(request).filter(group=group).order_by("index", "pk")
    rows = validator_rows(members)
    since = utc_today() - dt.timedelta(days=CHART_DAYS)
    return render(
        request,
        "validators/group.html",
        {
            "group": group,
            "rows": rows,
            "figures": combine(row.figures for row in rows),
            "status_counts": _status_counts(rows),
            "balance_gwei": sum(r.validator.balance or 0 for r in rows),
            "effective_balance_gwei": sum(r.validator.effective_balance or 0 for r in rows),
            "chart_data": {
                "group": group.pk,
                "farm": group.farm_id,
                **_day_chart(members, since=since),
            },
        },
    )


class _Echo:
    def write(self, value):
        return value


def _income_csv(request, validators, filename):
    try:
        since, until = parse_day_range(request.GET)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())
    lines = (
        writer.writerow(row) for row in daily_income_rows(validators, since=since, until=until)
    )
    response = StreamingHttpResponse(
        _with_header(writer, lines), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _with_header(writer, lines):
    yield writer.writerow(CSV_HEADER)
    yield from lines


def token_or_login(view):
    """A page a script may fetch with the farm's API token (`Authorization: Bearer`, `read`
    scope), scoped to the token's farm as the API is; without one, the login as for any page.
    A bad or expired token is 401, a token without `read` 403: never the login page, which a
    script would take for the file."""
    authentication = BearerTokenAuthentication()

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            found = authentication.authenticate(request)
        except AuthenticationFailed as exc:
            answer = HttpResponse(f"{exc.detail}\n", status=401, content_type="text/plain")
            answer["WWW-Authenticate"] = authentication.authenticate_header(request)
            return answer
        if found is None:  # no Bearer header: the session, or the login page
            return login_required(view)(request, *args, **kwargs)
        request.user, request.auth = found
        if not request.auth.has_scope(ApiToken.Scope.READ):
            return HttpResponseForbidden(
                "This token lacks the read scope.\n", content_type="text/plain"
            )
        return view(request, *args, **kwargs)

    return wrapped


@token_or_login
def validator_income_csv(request, pk):
    """The validator's income per UTC day, for tax reports (?from=&to=, YYYY-MM-DD)."""
    validator = get_object_or_404(visible_validators(request), pk=pk)
    name = validator.index if validator.index is not None else validator.pk
    return _income_csv(
        request, Validator.objects.filter(pk=validator.pk), f"validator-{name}-income.csv"
    )


@token_or_login
def group_income_csv(request, pk):
    """Each member's income per UTC day (?from=&to=, YYYY-MM-DD)."""
    group = get_object_or_404(scope_to_farms(ValidatorGroup.objects.all(), request), pk=pk)
    members = Validator.objects.filter(group=group, farm_id=group.farm_id)
    return _income_csv(request, members, f"group-{group.pk}-income.csv")


# -- what the farm follows ---------------------------------------------------------------------

SHOWN = 200  # entries listed per outcome on the page; the counts are always complete


def writable_farms(user):
    return Farm.objects.filter(pk__in=farm_ids_for_user(user, roles=WRITE_ROLES)).order_by("name")


def _discoveries(farms):
    out = []
    for farm in farms:
        state = resolution.discovery_state(farm.pk)
        if state:
            out.append({"farm": farm, **state})
    return out


@login_required
def validator_add(request):
    """Adds validators from a pasted list (all or nothing: a malformed entry saves nothing and
    answers 400), or starts a discovery by withdrawal address in the background."""
    farms = writable_farms(request.user)
    if not farms.exists():
        raise Http404("Only owners and managers of a farm add its validators.")
    action = request.POST.get("action") if request.method == "POST" else None
    add_form = ValidatorAddForm(
        request.POST if action == "add" else None, farms=farms, prefix="add"
    )
    discover_form = DiscoverForm(
        request.POST if action == "discover" else None, farms=farms, prefix="discover"
    )
    for form in (add_form, discover_form):
        form.fields["group"].widget.attrs["list"] = "validator-groups"
    context = {
        "add_form": add_form,
        "discover_form": discover_form,
        "groups": ValidatorGroup.objects.filter(farm__in=farms).order_by("name"),
        "shown": SHOWN,
    }
    status = 200
    if action == "add":
        if add_form.is_valid():
            data = add_form.cleaned_data
            result = adding.add_validators(
                data["farm"], data["entries"], group=data["group"], label=data["label"]
            )
            context["result"] = result
            context["created_shown"] = [str(v) for v in result.created[:SHOWN]]
        else:
            status = 400
    elif action == "discover":
        if discover_form.is_valid():
            data = discover_form.cleaned_data
            farm = data["farm"]
            started = resolution.start_discovery(
                farm, data["address"], group=data["group"], label=data["label"]
            )
            if not started:
                discover_form.add_error(None, "A discovery is already running for this farm.")
                status = 409
            else:
                messages.success(
                    request, f"Looking for the validators of {data['address']} in the registry."
                )
                return redirect("validator-add")
        else:
            status = 400
    discoveries = _discoveries(farms)
    context["discoveries"] = discoveries
    context["refresh"] = request.method == "GET" and any(
        resolution.discovery_running(d) for d in discoveries
    )
    return render(request, "validators/add.html", context, status=status)


@login_required
def beacon_nodes(request):
    """The farms' beacon nodes and MEV relays. Adding a node asks it once and shows its answer;
    only "Save" stores it, with the genesis and chain constants it gave."""
    visible = farm_ids_for_user(request.user)
    farm_ids = visible
    chosen = request.GET.get("farm", "")
    if chosen:
        if not chosen.isdigit() or int(chosen) not in visible:
            raise Http404("No such farm.")
        farm_ids = [int(chosen)]
    farms = writable_farms(request.user)
    writable_ids = set(farms.values_list("pk", flat=True))
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST" and not writable_ids:
        raise PermissionDenied("Only owners and managers add beacon nodes and relays.")
    node_form = relay_form = None
    if writable_ids:
        node_form = BeaconNodeForm(
            request.POST if action.startswith("node-") else None, farms=farms, prefix="node"
        )
        relay_form = MevRelayForm(
            request.POST if action == "relay-add" else None, farms=farms, prefix="relay"
        )
    context = {"node_form": node_form, "relay_form": relay_form}
    status = 200
    if action in ("node-try", "node-save"):
        if node_form.is_valid():
            data = node_form.cleaned_data
            check = nodes.try_node(data["url"], data["auth_header"])
            if not check.error and action == "node-save":
                node = adding.add_beacon_node(
                    data["farm"],
                    name=data["name"],
                    url=data["url"],
                    auth_header=data["auth_header"],
                    priority=data["priority"],
                    check=check,
                )
                health = node.get_health_display()
                messages.success(request, f"Beacon node {node} added ({health}).")
                return redirect("beacon-nodes")
            context.update(tried=True, info=check, error=check.error)
        else:
            status = 400
    elif action == "relay-add":
        if relay_form.is_valid():
            data = relay_form.cleaned_data
            relay = adding.add_mev_relay(data["farm"], url=data["url"], name=data["name"])
            messages.success(request, f"MEV relay {relay} added.")
            return redirect("beacon-nodes")
        status = 400
    context["nodes"] = BeaconNode.objects.filter(farm_id__in=farm_ids).select_related("farm")
    context["relays"] = MevRelay.objects.filter(farm_id__in=farm_ids).select_related("farm")
    context["writable_ids"] = writable_ids
    return render(request, "validators/nodes.html", context, status=status)


def _delete(request, model, pk, what):
    visible = farm_ids_for_user(request.user)
    obj = get_object_or_404(model.objects.filter(farm_id__in=visible), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if obj.farm_id not in farm_ids_for_user(request.user, roles=WRITE_ROLES):
        raise PermissionDenied(f"Only owners and managers remove {what}s.")
    obj.delete()
    messages.success(request, f"{what.capitalize()} {obj} removed.")
    return redirect("beacon-nodes")


@login_required
def beacon_node_delete(request, pk):
    return _delete(request, BeaconNode, pk, "beacon node")


@login_required
def mev_relay_delete(request, pk):
    return _delete(request, MevRelay, pk, "MEV relay")
