"""The Hive OS agent's endpoint, included at /worker/ by ethdash/urls.py: the agent posts to
$HIVE_HOST_URL/worker/api, with no trailing slash."""

from django.urls import path

from rigs.api.hive import worker_api

urlpatterns = [path("api", worker_api, name="hive-worker-api")]
