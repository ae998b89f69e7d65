from django.urls import path

from observability import views

app_name = "observability"

urlpatterns = [
    path("", views.monitoring_home, name="monitoring"),
    path("endpoints/<slug:name>/", views.endpoint_monitoring, name="endpoint_monitoring"),
    path("endpoints/<slug:name>/panel/", views.endpoint_panel, name="endpoint_panel"),
    path("monitors/<id:monitor_id>/tune/", views.monitor_tune, name="monitor_tune"),
    path("monitors/<id:monitor_id>/run/", views.monitor_run_now, name="monitor_run"),
    path("alerts/<id:alert_id>/<slug:action>/", views.alert_action, name="alert_action"),
    path("versions/<id:version_id>/panel/", views.version_panel, name="version_panel"),
    path("projects/<id:project_id>/panel/", views.project_panel, name="project_panel"),
    path("projects/<id:project_id>/promise/", views.promise_set, name="promise_set"),
    path("promises/panel/", views.promises_panel, name="promises_panel"),
    path("mine/panel/", views.mine_panel, name="mine_panel"),
]
