"""The validators API, included at /api/v1/ by ethdash/urls.py."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from validators.api.views import (
    BeaconNodeViewSet,
    DiscoverView,
    MevRelayViewSet,
    ValidatorAddView,
    ValidatorGroupViewSet,
    ValidatorViewSet,
)

router = DefaultRouter()
# /api/v1/ itself is the core's root view, which lists every app's endpoints.
router.include_root_view = False
# "validator-api", not "validator": the pages are named validator-list and validator-detail.
router.register("validators", ValidatorViewSet, basename="validator-api")
router.register("validator-groups", ValidatorGroupViewSet, basename="validator-group-api")
router.register("beacon-nodes", BeaconNodeViewSet, basename="beacon-node-api")
router.register("mev-relays", MevRelayViewSet, basename="mev-relay-api")

urlpatterns = [
    # Before the router, whose validators/<pk>/ would otherwise take "add" and "discover".
    path("validators/add/", ValidatorAddView.as_view(), name="validator-add-api"),
    path("validators/discover/", DiscoverView.as_view(), name="validator-discover-api"),
    *router.urls,
]
