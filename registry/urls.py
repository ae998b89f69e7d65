from django.urls import path

from portal.views import section_empty

app_name = "registry"

urlpatterns = [
    path("", section_empty, {"section": "projects"}, name="projects"),
]
