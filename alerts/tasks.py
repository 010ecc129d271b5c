from celery import shared_task


@shared_task(ignore_result=True)
def sweep_alerts():
    from alerts.services.evaluate import sweep

    outcome = sweep()
    return {"opened": len(outcome.opened), "resolved": len(outcome.resolved)}


@shared_task(ignore_result=True)
def deliver_notifications(farm_id):
    from alerts.services.delivery import deliver_farm

    return deliver_farm(farm_id)
