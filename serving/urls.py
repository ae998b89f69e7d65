from django.urls import path

from serving import views

app_name = "serving"

urlpatterns = [
    path("", views.deployment_list, name="deployments"),
    path("endpoints/<slug:name>/", views.endpoint_detail, name="endpoint_detail"),
    path("endpoints/<slug:name>/try/", views.endpoint_try, name="endpoint_try"),
    path("endpoints/<slug:name>/<slug:action>/", views.endpoint_action, name="endpoint_action"),
    path("versions/<id:version_id>/", views.version_deployments, name="version_deployments"),
    path("versions/<id:version_id>/deploy/", views.deploy_confirm, name="deploy_confirm"),
]
