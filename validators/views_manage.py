"""Pages that change what the farm follows: adding validators (a pasted list, or every validator
of a withdrawal address) and its beacon nodes and MEV relays. Owners and managers write; viewers
see the nodes read-only; another farm's objects are 404."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.models import Farm
from accounts.scoping import WRITE_ROLES, farm_ids_for_user
from validators import tasks_manage
from validators.forms import BeaconNodeForm, DiscoverForm, MevRelayForm, ValidatorAddForm
from validators.models import BeaconNode, MevRelay, ValidatorGroup
from validators.services import registry

# A discovery whose worker died stays "running" in the cache; after this long a new one may start.
DISCOVERY_STALE = timedelta(hours=1)
SHOWN = 200  # entries listed per outcome on the page; the counts are always complete


def writable_farms(user):
    return Farm.objects.filter(pk__in=farm_ids_for_user(user, roles=WRITE_ROLES)).order_by("name")


def _discoveries(farms):
    out = []
    for farm in farms:
        state = tasks_manage.discovery_state(farm.pk)
        if state:
            out.append({"farm": farm, **state})
    return out


def _running(state):
    if not state or state.get("state") not in ("queued", "running"):
        return False
    started = state.get("started_at")
    return started is not None and timezone.now() - started < DISCOVERY_STALE


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
            result = registry.add_validators(
                data["farm"], data["entries"], group=data["group"], label=data["label"]
            )
            if result.created:
                farm_id = data["farm"].pk
                transaction.on_commit(lambda: tasks_manage.resolve_farm_validators.delay(farm_id))
            context["result"] = result
            context["created_shown"] = [str(v) for v in result.created[:SHOWN]]
        else:
            status = 400
    elif action == "discover":
        if discover_form.is_valid():
            data = discover_form.cleaned_data
            farm = data["farm"]
            if _running(tasks_manage.discovery_state(farm.pk)):
                discover_form.add_error(None, "A discovery is already running for this farm.")
                status = 409
            else:
                tasks_manage.set_discovery_state(
                    farm.pk,
                    state="queued",
                    address=data["address"],
                    scanned=0,
                    found=0,
                    added=0,
                    skipped=0,
                    error="",
                    started_at=timezone.now(),
                    finished_at=None,
                )
                args = (farm.pk, data["address"], data["group"], data["label"])
                transaction.on_commit(lambda: tasks_manage.discover_validators.delay(*args))
                messages.success(
                    request, f"Looking for the validators of {data['address']} in the registry."
                )
                return redirect("validator-add")
        else:
            status = 400
    discoveries = _discoveries(farms)
    context["discoveries"] = discoveries
    context["refresh"] = request.method == "GET" and any(_running(d) for d in discoveries)
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
            info, error = registry.try_node(data["url"], data["auth_header"])
            if info is not None and action == "node-save":
                node = registry.add_beacon_node(
                    data["farm"],
                    name=data["name"],
                    url=data["url"],
                    auth_header=data["auth_header"],
                    priority=data["priority"],
                    info=info,
                )
                health = node.get_health_display()
                messages.success(request, f"Beacon node {node} added ({health}).")
                return redirect("beacon-nodes")
            context.update(tried=True, info=info, error=error)
        else:
            status = 400
    elif action == "relay-add":
        if relay_form.is_valid():
            data = relay_form.cleaned_data
            relay = registry.add_mev_relay(data["farm"], url=data["url"], name=data["name"])
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
