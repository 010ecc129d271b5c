from alerts.models import Alert


def open_alert_count(request):
    """The open alerts of the user's farms, for the header's count (alerts.js keeps it live):
    one query a page, the farms joined rather than looked up first."""
    user = getattr(request, "user", None)
    # A token whose creator was deleted authenticates as a stand-in with no pk: it sees no farm.
    if user is None or not user.is_authenticated or user.pk is None:
        return {}
    count = Alert.objects.filter(farm__memberships__user=user, state=Alert.State.OPEN).count()
    return {"open_alert_count": count}
