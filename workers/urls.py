from django.urls import path

from workers import views

app_name = "workers"

urlpatterns = [
    path("jobs/", views.job_list_view, name="job_list"),
    path("jobs/<id:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<id:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("system/", views.system, name="system"),
    path("system/check/", views.system_check_start, name="system_check_start"),
]
