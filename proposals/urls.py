from django.urls import path

from portal.views import section_empty

app_name = "proposals"

urlpatterns = [
    path("proposals/", section_empty, {"section": "proposals"}, name="list"),
    path("council/", section_empty, {"section": "council"}, name="council"),
]
