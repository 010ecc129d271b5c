from celery import shared_task
from django.conf import settings

from ethdash.outbound import backoff_delay

# The delivery task's retries: first after about a minute, doubling, at most 30 minutes apart,
# and never later than half the broker's visibility timeout: on Redis a task waiting for its
# countdown is unacked, and one held past the timeout would be delivered a second time.
RETRY_BASE_S = 60.0
RETRY_MAX_S = 1800.0


def retry_max_s():
    return min(RETRY_MAX_S, settings.ETHDASH_CELERY_VISIBILITY_TIMEOUT_S / 2)


@shared_task(ignore_result=True)
def sweep_alerts():
    from alerts.services.evaluate import sweep

    outcome = sweep()
    return {"opened": len(outcome.opened), "resolved": len(outcome.resolved)}


@shared_task(bind=True, ignore_result=True)
def deliver_notifications(self, farm_id):
    """Deliver the farm's pending notifications; when a channel failed (and is not yet marked
    failing), run again later with backoff. Bounded: each failed run counts one failure on the
    channel, which is marked failing (and its notifications suppressed) after
    ETHDASH_ALERT_CHANNEL_MAX_FAILURES, and the retries stop at the same number."""
    from alerts.services.delivery import deliver_farm

    outcome = deliver_farm(farm_id)
    max_retries = settings.ETHDASH_ALERT_CHANNEL_MAX_FAILURES
    if outcome.retry and self.request.retries < max_retries:
        countdown = min(backoff_delay(self.request.retries + 1, RETRY_BASE_S), retry_max_s())
        raise self.retry(countdown=countdown, max_retries=max_retries)
    return outcome.as_dict()
