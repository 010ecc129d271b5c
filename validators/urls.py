# Page names carry a "validator" prefix instead of a namespace: the header links to
# "validator-list", and the API router's names use a different basename ("validator-api").
from django.urls import path

from validators import views

urlpatterns = [
    path("", views.validator_list, name="validator-list"),
    path("add/", views.validator_add, name="validator-add"),
    path("nodes/", views.beacon_nodes, name="beacon-nodes"),
    path("nodes/<int:pk>/delete/", views.beacon_node_delete, name="beacon-node-delete"),
    path("relays/<int:pk>/delete/", views.mev_relay_delete, name="mev-relay-delete"),
    path("<int:pk>/", views.validator_detail, name="validator-detail"),
    path("<int:pk>/income.csv", views.validator_income_csv, name="validator-income-csv"),
    path("groups/<int:pk>/", views.group_detail, name="validator-group"),
    path("groups/<int:pk>/income.csv", views.group_income_csv, name="validator-group-income-csv"),
]
