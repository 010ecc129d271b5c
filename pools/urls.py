from django.urls import path

from pools import views

app_name = "pools"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("add/", views.account_add, name="add"),
    path("<int:pk>/", views.account_detail, name="detail"),
    path("pool/<int:pk>/", views.pool_detail, name="pool"),
]
