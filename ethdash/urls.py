from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from ethdash import views
from pools.api import PoolAccountViewSet, rig_pool_series
from rigs.api import GpuViewSet, RigViewSet

router = DefaultRouter()
router.register("rigs", RigViewSet, basename="rig")
router.register("gpus", GpuViewSet, basename="gpu")
router.register("pool-accounts", PoolAccountViewSet, basename="pool-account")


def _coming(title, text):
    return {"title": title, "coming": text}


urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("rigs/", include("rigs.urls")),
    path("pools/", include("pools.urls")),
    path(
        "validators/",
        views.placeholder,
        _coming(
            "Validators",
            "Balances, income per epoch and day split into consensus and execution rewards, APR, "
            "attestation effectiveness, proposals with MEV payments and sync duties, read from "
            "your own beacon nodes, live.",
        ),
        name="validator-list",
    ),
    path(
        "alerts/",
        views.placeholder,
        _coming(
            "Alerts",
            "Rules for offline rigs, hashrate drops, hot or idle GPUs, rejected shares, missed "
            "payouts and missed duties, delivered by e-mail, Telegram, Discord or webhook once "
            "per state change, with a matching 'recovered'.",
        ),
        name="alert-list",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/pool-workers/series/", rig_pool_series, name="rig-pool-series"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
