from django.urls import include, path, re_path

from . import views

shop = [path("orders/<slug:order>/", views.order)]

urlpatterns = [
    path("items/<int:item_id>", views.item),
    path("boom", views.boom),
    path("shop/", include(shop)),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", views.archive),
]
