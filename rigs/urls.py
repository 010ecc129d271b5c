from django.urls import path

from rigs import views

urlpatterns = [
    path("", views.rig_list, name="rig-list"),
    path("<int:pk>/", views.rig_detail, name="rig-detail"),
]
