from django.urls import path

from rigs import views

app_name = "rigs"

urlpatterns = [
    path("", views.rig_list, name="list"),
    path("<int:pk>/", views.rig_detail, name="detail"),
]
