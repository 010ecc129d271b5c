"""Pages that add to what a farm follows; included at /validators/ before the validators pages,
so their names stay global (validator-add, beacon-nodes)."""

from django.urls import path

from validators import views_manage

urlpatterns = [
    path("add/", views_manage.validator_add, name="validator-add"),
    path("nodes/", views_manage.beacon_nodes, name="beacon-nodes"),
    path("nodes/<int:pk>/delete/", views_manage.beacon_node_delete, name="beacon-node-delete"),
    path("relays/<int:pk>/delete/", views_manage.mev_relay_delete, name="mev-relay-delete"),
]
