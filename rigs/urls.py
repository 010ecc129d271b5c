from django.urls import path

from rigs import views

app_name = "rigs"

urlpatterns = [
    path("", views.rig_list, name="list"),
    path("add/", views.rig_add, name="add"),
    path("<int:pk>/", views.rig_detail, name="detail"),
    path("<int:pk>/edit/", views.rig_edit, name="edit"),
    path("<int:pk>/hive-password/", views.rig_hive_password, name="hive-password"),
    path("<int:pk>/hive-config/", views.rig_hive_config, name="hive-config"),
    path("gpus/", views.gpu_list, name="gpu-list"),
    path("gpus/<int:pk>/", views.gpu_detail, name="gpu-detail"),
]
