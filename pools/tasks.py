from celery import shared_task


@shared_task(ignore_result=True)
def poll_due_accounts():
    from pools.services.polling import poll_due_accounts as poll

    results = poll()
    return {r.pool.name: {"polled": r.polled, "stored": r.stored} for r in results}


@shared_task(ignore_result=True)
def verify_payouts():
    from pools.services.payouts import verify_payouts as verify

    return verify()


@shared_task(ignore_result=True)
def reconcile_accounts():
    from pools.services.reconcile import reconcile_accounts as reconcile

    return reconcile()
