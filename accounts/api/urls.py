"""The accounts API, included at /api/v1/ by ethdash/urls.py."""

from rest_framework.routers import DefaultRouter

from accounts.api.views import ApiTokenViewSet, FarmViewSet, MembershipViewSet

router = DefaultRouter()
# /api/v1/ itself is the core's root view, which lists every app's endpoints.
router.include_root_view = False
router.register("farms", FarmViewSet, basename="farm")
router.register("memberships", MembershipViewSet, basename="membership")
# "token-list" is the token page's name (accounts.urls).
router.register("tokens", ApiTokenViewSet, basename="token-api")

urlpatterns = router.urls
