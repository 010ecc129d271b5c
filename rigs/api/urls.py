"""The rigs API, included at /api/v1/ by ethdash/urls.py."""

from rest_framework.routers import DefaultRouter

from rigs.api.views import GpuViewSet, RigViewSet

router = DefaultRouter()
# /api/v1/ itself is the core's root view, which lists every app's endpoints.
router.include_root_view = False
router.register("rigs", RigViewSet, basename="rig")
router.register("gpus", GpuViewSet, basename="gpu")

urlpatterns = router.urls
