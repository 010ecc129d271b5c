from celery import shared_task

# The add page's tasks live beside their views' helpers; importing them here is what makes a
# worker (which autodiscovers tasks.py modules) know them.
from validators.tasks_manage import discover_validators, resolve_farm_validators  # noqa: F401


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
