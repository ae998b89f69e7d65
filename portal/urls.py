from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import views
from portal.api import AuditEventListApi
from workers import api as workers_api

api_v1 = [
    path("audit-events/", AuditEventListApi.as_view(), name="audit-event-list"),
    path("jobs/", workers_api.JobListApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", workers_api.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel/", workers_api.JobCancelApi.as_view(), name="job-cancel"),
    path("system-checks/", workers_api.SystemCheckStartApi.as_view(), name="system-check-start"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("", include("proposals.urls")),
    path("projects/", include("registry.urls")),
    path("deployments/", include("serving.urls")),
    path("monitoring/", include("observability.urls")),
    path("", include("workers.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
