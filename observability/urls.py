from django.urls import path

from portal.views import section_empty

app_name = "observability"

urlpatterns = [
    path("", section_empty, {"section": "monitoring"}, name="monitoring"),
]
