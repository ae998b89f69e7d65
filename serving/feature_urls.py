from django.urls import path

from serving import feature_views as views, training_set_views

app_name = "features"

urlpatterns = [
    path("", views.feature_view_list, name="list"),
    path("new/", views.feature_view_new, name="new"),
    path("new/columns/", views.feature_source_columns, name="source_columns"),
    path("training-sets/new/", training_set_views.training_set_new, name="training_set_new"),
    path("<slug:name>/", views.feature_view_detail, name="detail"),
    path("<slug:name>/edit/", views.feature_view_edit, name="edit"),
    path("<slug:name>/health/", views.feature_view_health, name="health"),
    path("<slug:name>/progress/", views.feature_view_progress, name="progress"),
    path("<slug:name>/materialize/", views.feature_view_materialize, name="materialize"),
    path("<slug:name>/move/", views.feature_view_move, name="move"),
]
