"""The alerts API, included at /api/v1/ by ethdash/urls.py."""

from rest_framework.routers import DefaultRouter

from alerts.api.views import AlertRuleViewSet, AlertViewSet, NotificationChannelViewSet

router = DefaultRouter()
# /api/v1/ itself is the core's root view, which lists every app's endpoints.
router.include_root_view = False
router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register(
    "notification-channels", NotificationChannelViewSet, basename="notification-channel"
)

urlpatterns = router.urls
