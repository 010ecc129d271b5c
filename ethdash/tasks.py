from celery import shared_task

from ethdash import health


@shared_task(bind=True, ignore_result=True)
def heartbeat(self):
    """Sent by beat every ETHDASH_HEARTBEAT_S (beat's side is recorded when it is published):
    records that a worker ran it, and which one, for /readyz and the staff banner."""
    health.record_worker_run(self.request.hostname)
