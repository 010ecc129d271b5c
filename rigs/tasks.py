from celery import shared_task

from rigs.services.status import mark_offline_rigs as mark_offline


@shared_task(ignore_result=True)
def mark_offline_rigs():
    return mark_offline()


@shared_task(ignore_result=True)
def poll_due_rigs():
    from rigs.services.polling import poll_due_rigs as poll

    summary = poll()
    return {"polled": summary.polled, "stored": summary.stored, "failed": summary.failed}


@shared_task(ignore_result=True)
def update_rollups():
    from rigs.services.rollups import update_rollups as update

    update()


@shared_task(ignore_result=True)
def refresh_hashrate_medians():
    from rigs.services.rollups import refresh_hashrate_medians as refresh

    return refresh()


@shared_task(ignore_result=True)
def purge_expired_samples():
    from rigs.services.rollups import purge_expired

    return purge_expired()
