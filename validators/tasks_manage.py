"""Background work started from the add page: resolving what was pasted, and discovering a
withdrawal address's validators (a walk over the whole registry, minutes on mainnet).

Task names are explicit so that they survive a move into validators/tasks.py. Discovery's
progress lives in the cache (Redis in production, shared by web and worker; the process's own
memory in the embedded demo, where the worker is a thread of the web process)."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

DISCOVERY_TTL_S = 24 * 3600


def discovery_key(farm_id: int) -> str:
    return f"validators:discovery:{farm_id}"


def discovery_state(farm_id: int) -> dict | None:
    """The farm's last discovery: state (queued, running, done, failed), address, scanned,
    found, added, skipped, error, started_at, finished_at."""
    return cache.get(discovery_key(farm_id))


def set_discovery_state(farm_id: int, **changes) -> dict:
    state = {**(discovery_state(farm_id) or {}), **changes}
    cache.set(discovery_key(farm_id), state, DISCOVERY_TTL_S)
    return state


@shared_task(name="validators.resolve_validators", ignore_result=True)
def resolve_farm_validators(farm_id: int):
    from accounts.models import Farm
    from validators.services.registry import resolve_validators

    farm = Farm.objects.filter(pk=farm_id).first()
    if farm is None:
        return None
    result = resolve_validators(farm)
    return {"resolved": result.resolved, "not_found": result.not_found, "error": result.error}


@shared_task(name="validators.discover_by_withdrawal_address", ignore_result=True)
def discover_validators(farm_id: int, address: str, group: str = "", label: str = ""):
    """Finds the validators paying `address` and adds them to the farm (with group and label),
    reporting progress and the outcome through discovery_state."""
    from accounts.models import Farm
    from validators.services.registry import (
        InvalidEntries,
        NoNodeAnswered,
        add_validators,
        discover_by_withdrawal_address,
    )

    farm = Farm.objects.filter(pk=farm_id).first()
    if farm is None:
        return None
    set_discovery_state(farm_id, state="running", scanned=0, found=0, error="")

    def progress(scanned, found):
        set_discovery_state(farm_id, scanned=scanned, found=found)

    try:
        indices = discover_by_withdrawal_address(farm, address, progress=progress)
        added = skipped = 0
        if indices:
            result = add_validators(farm, indices, group=group or None, label=label)
            added, skipped = len(result.created), len(result.skipped)
    except (NoNodeAnswered, InvalidEntries, ValueError) as exc:
        set_discovery_state(farm_id, state="failed", error=str(exc), finished_at=timezone.now())
        return None
    set_discovery_state(
        farm_id,
        state="done",
        found=len(indices),
        added=added,
        skipped=skipped,
        finished_at=timezone.now(),
    )
    if added:
        resolve_farm_validators.delay(farm_id)
    return {"found": len(indices), "added": added}
