from celery import shared_task

from rigs.services.status import mark_offline_rigs as mark_offline


@shared_task(ignore_result=True)
def mark_offline_rigs():
    return mark_offline()
