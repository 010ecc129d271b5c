from accounts.scoping import farm_ids_for_user
from alerts.models import Alert


def open_alert_count(request):
    """The open alerts of the user's farms, for the header's count (alerts.js keeps it live)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return {}
    farm_ids = farm_ids_for_user(user)
    count = Alert.objects.filter(farm_id__in=farm_ids, state=Alert.State.OPEN).count()
    return {"open_alert_count": count}
