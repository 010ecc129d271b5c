from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ethdash import views
from ethdash.api import ApiRootView
from ethdash.api_docs import ApiDocsPermission
from ethdash.metrics_views import FarmMetricsView, ProcessMetricsView

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
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
    path("api/v1/", include("accounts.api.urls")),
    # The Hive OS agent posts to $HIVE_HOST_URL/worker/api (its own protocol, not the REST API).
    path("worker/", include("rigs.api.hive_urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[ApiDocsPermission]),
        name="schema",
    ),
    # The split view serves Swagger UI's set-up script as a file of its own: the Content
    # Security Policy allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[ApiDocsPermission]
        ),
        name="api-docs",
    ),
]
