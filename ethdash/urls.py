from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ethdash import views
from ethdash.api import ApiRootView
from ethdash.metrics_views import FarmMetricsView, ProcessMetricsView

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", FarmMetricsView.as_view(), name="metrics"),
    path("metrics/process", ProcessMetricsView.as_view(), name="metrics-process"),
    path("accounts/", include("accounts.urls")),
    path("rigs/", include("rigs.urls")),
    path("pools/", include("pools.urls")),
    path("validators/", include("validators.urls")),
    path("alerts/", include("alerts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include("rigs.api.urls")),
    path("api/v1/", include("pools.api.urls")),
    path("api/v1/", include("validators.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    # The Hive OS agent posts to $HIVE_HOST_URL/worker/api (its own protocol, not the REST API).
    path("worker/", include("rigs.api.hive_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
