from django.urls import path

from registry import views

app_name = "registry"

urlpatterns = [
    path("", views.project_list, name="projects"),
    path("<id:project_id>/", views.project_detail, name="project_detail"),
    path("<id:project_id>/train/", views.project_train, name="project_train"),
    path("<id:project_id>/state/", views.project_state_set, name="project_state"),
    path("<id:project_id>/schedules/<id:model_id>/stop/", views.project_schedule_stop, name="project_schedule_stop"),
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/upload/", views.dataset_upload, name="dataset_upload"),
    path("datasets/<id:dataset_id>/", views.dataset_detail, name="dataset_detail"),
    path("versions/", views.version_list, name="versions"),
    path("versions/compare/", views.version_compare, name="version_compare"),
    path("versions/<id:version_id>/", views.version_detail, name="version_detail"),
    path("versions/<id:version_id>/aliases/", views.version_alias_set, name="version_alias_set"),
]
