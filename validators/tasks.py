"""Celery tasks of the validators app: thin wrappers over validators.services. The names of the
add page's tasks are explicit, as messages already queued carry them."""

from celery import shared_task


@shared_task(ignore_result=True)
def process_validators(farm_id=None):
    """Brings one farm (from the event listener) or every farm (from beat) up to date."""
    from validators.services.process import process_all, process_farm

    runs = [process_farm(farm_id)] if farm_id is not None else process_all()
    return {
        run.farm_id: {"stored": run.stored, "skipped": run.skipped, "error": run.error}
        for run in runs
        if run is not None
    }


@shared_task(ignore_result=True)
def purge_validator_epochs():
    from validators.services.retention import purge_expired

    return purge_expired()


@shared_task(ignore_result=True)
def execution_rewards():
    from validators.services.execution import process_pending_execution

    return process_pending_execution()


@shared_task(name="validators.resolve_validators", ignore_result=True)
def resolve_farm_validators(farm_id: int):
    from accounts.models import Farm
    from validators.services.resolution import resolve_validators

    farm = Farm.objects.filter(pk=farm_id).first()
    if farm is None:
        return None
    result = resolve_validators(farm)
    return {"resolved": result.resolved, "not_found": result.not_found, "error": result.error}


@shared_task(name="validators.discover_by_withdrawal_address", ignore_result=True)
def discover_validators(farm_id: int, address: str, group: str = "", label: str = ""):
    """A discovery by withdrawal address started on the add page (minutes on mainnet)."""
    from accounts.models import Farm
    from validators.services.resolution import run_discovery

    farm = Farm.objects.filter(pk=farm_id).first()
    if farm is None:
        return None
    return run_discovery(farm, address, group=group, label=label)
