from django.urls import path

from rigs import views

app_name = "rigs"

urlpatterns = [
    path("", views.rig_list, name="list"),
    path("add/", views.rig_add, name="add"),
    path("<int:pk>/", views.rig_detail, name="detail"),
    path("<int:pk>/edit/", views.rig_edit, name="edit"),
    path("gpus/", views.gpu_list, name="gpu-list"),
    path("gpus/<int:pk>/", views.gpu_detail, name="gpu-detail"),
]
