from django.urls import path

from portal.views import section_empty

app_name = "serving"

urlpatterns = [
    path("", section_empty, {"section": "deployments"}, name="deployments"),
]
