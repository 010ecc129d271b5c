from ethdash import health


def ops_health(request):
    """For staff on every page: what is wrong with the background processes (no beat, no
    worker), from one cache read; nothing for anyone else."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_authenticated and user.is_staff):
        return {}
    return {"background_problems": health.background_problems()}
