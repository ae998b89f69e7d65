from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import oidc, people_api, people_views, views
from observability import api as observability_api
from portal.api import AuditEventListApi, MyNotificationListApi, MyNotificationReadApi
from proposals import api as proposals_api
from registry import api as registry_api
from serving import api as serving_api
from workers import api as workers_api

api_v1 = [
    path("audit-events/", AuditEventListApi.as_view(), name="audit-event-list"),
    path("jobs/", workers_api.JobListApi.as_view(), name="job-list"),
    path("jobs/<id:job_id>/", workers_api.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<id:job_id>/cancel/", workers_api.JobCancelApi.as_view(), name="job-cancel"),
    path("system-checks/", workers_api.SystemCheckStartApi.as_view(), name="system-check-start"),
    path("proposals/", proposals_api.ProposalListApi.as_view(), name="proposal-list"),
    path("proposals/<id:proposal_id>/", proposals_api.ProposalDetailApi.as_view(), name="proposal-detail"),
    path("proposals/<id:proposal_id>/submit/", proposals_api.ProposalSubmitApi.as_view(), name="proposal-submit"),
    path("proposals/<id:proposal_id>/withdraw/", proposals_api.ProposalWithdrawApi.as_view(), name="proposal-withdraw"),
    path("proposals/<id:proposal_id>/pod-reviews/", proposals_api.ProposalPodReviewApi.as_view(), name="proposal-pod-reviews"),
    path("proposals/<id:proposal_id>/council-votes/", proposals_api.ProposalVoteApi.as_view(), name="proposal-council-votes"),
    path("proposals/<id:proposal_id>/close-vote/", proposals_api.ProposalCloseVoteApi.as_view(), name="proposal-close-vote"),
    path("proposals/<id:proposal_id>/chair-decision/", proposals_api.ProposalChairDecisionApi.as_view(), name="proposal-chair-decision"),
    path("meetings/", proposals_api.MeetingListApi.as_view(), name="meeting-list"),
    path("meetings/<id:meeting_id>/", proposals_api.MeetingDetailApi.as_view(), name="meeting-detail"),
    path("meetings/<id:meeting_id>/publish-minutes/", proposals_api.MeetingPublishMinutesApi.as_view(), name="meeting-publish-minutes"),
    path("notifications/", proposals_api.NotificationListApi.as_view(), name="notification-list"),
    path("people/", people_api.PersonListApi.as_view(), name="person-list"),
    path("people/<str:username>/", people_api.PersonDetailApi.as_view(), name="person-detail"),
    path("people/<str:username>/deactivate/", people_api.PersonDeactivateApi.as_view(), name="person-deactivate"),
    path("people/<str:username>/reactivate/", people_api.PersonReactivateApi.as_view(), name="person-reactivate"),
    path("pods/", people_api.PodListApi.as_view(), name="pod-list"),
    path("pods/<id:pod_id>/", people_api.PodDetailApi.as_view(), name="pod-detail"),
    path("council/", people_api.CouncilApi.as_view(), name="council"),
    path("council/chair/", people_api.CouncilChairApi.as_view(), name="council-chair"),
    path("council/memberships/<id:membership_id>/end/", people_api.CouncilMembershipEndApi.as_view(),
         name="council-membership-end"),
    path("me/notifications/", MyNotificationListApi.as_view(), name="my-notification-list"),
    path("me/notifications/read/", MyNotificationReadApi.as_view(), name="my-notification-read"),
    path("projects/", registry_api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<id:project_id>/", registry_api.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<id:project_id>/suspend/", registry_api.ProjectSuspendApi.as_view(), name="project-suspend"),
    path("projects/<id:project_id>/reinstate/", registry_api.ProjectReinstateApi.as_view(), name="project-reinstate"),
    path("endpoints/", serving_api.EndpointListApi.as_view(), name="endpoint-list"),
    path("endpoints/<slug:name>/", serving_api.EndpointDetailApi.as_view(), name="endpoint-detail"),
    path("endpoints/<slug:name>/deploy/", serving_api.EndpointDeployApi.as_view(), name="endpoint-deploy"),
    path("endpoints/<slug:name>/canary/", serving_api.EndpointCanaryApi.as_view(), name="endpoint-canary"),
    path("endpoints/<slug:name>/canary/promote/", serving_api.EndpointCanaryPromoteApi.as_view(),
         name="endpoint-canary-promote"),
    path("endpoints/<slug:name>/shadows/", serving_api.EndpointShadowsApi.as_view(), name="endpoint-shadows"),
    path("endpoints/<slug:name>/shadows/<id:model_version_id>/", serving_api.EndpointShadowDeleteApi.as_view(),
         name="endpoint-shadow-delete"),
    path("endpoints/<slug:name>/rollback/", serving_api.EndpointRollbackApi.as_view(), name="endpoint-rollback"),
    path("endpoints/<slug:name>/undeploy/", serving_api.EndpointUndeployApi.as_view(), name="endpoint-undeploy"),
    path("endpoints/<slug:name>/history/", serving_api.EndpointHistoryApi.as_view(), name="endpoint-history"),
    path("monitors/", observability_api.MonitorListApi.as_view(), name="monitor-list"),
    path("monitors/<id:monitor_id>/", observability_api.MonitorDetailApi.as_view(), name="monitor-detail"),
    path("monitors/<id:monitor_id>/run/", observability_api.MonitorRunStartApi.as_view(), name="monitor-run"),
    path("monitor-runs/", observability_api.MonitorRunListApi.as_view(), name="monitor-run-list"),
    path("labels/", observability_api.LabelsApi.as_view(), name="labels"),
    path("alerts/", observability_api.AlertListApi.as_view(), name="alert-list"),
    path("alerts/<id:alert_id>/acknowledge/", observability_api.AlertAcknowledgeApi.as_view(),
         name="alert-acknowledge"),
    path("alerts/<id:alert_id>/resolve/", observability_api.AlertResolveApi.as_view(), name="alert-resolve"),
    path("projects/<id:project_id>/maturity/", observability_api.ProjectMaturityApi.as_view(),
         name="project-maturity"),
    path("projects/<id:project_id>/promise/", observability_api.ProjectPromiseApi.as_view(), name="project-promise"),
    path("datasets/", registry_api.DatasetListApi.as_view(), name="dataset-list"),
    path("datasets/<id:dataset_id>/", registry_api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("training-jobs/", registry_api.TrainingJobListApi.as_view(), name="training-job-list"),
    path("model-versions/", registry_api.ModelVersionListApi.as_view(), name="model-version-list"),
    path("model-versions/champion/", registry_api.ModelVersionChampionApi.as_view(), name="model-version-champion"),
    path("model-versions/<id:version_id>/", registry_api.ModelVersionDetailApi.as_view(), name="model-version-detail"),
    path("model-versions/<id:version_id>/aliases/", registry_api.ModelVersionAliasesApi.as_view(), name="model-version-aliases"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/oidc/", include(oidc.urlpatterns)),
    path("", views.dashboard, name="dashboard"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    path("notifications/<id:notification_id>/open/", views.notification_open, name="notification_open"),
    path("people/", people_views.person_list_view, name="people"),
    path("people/new/", people_views.person_create, name="person_create"),
    path("people/<str:username>/", people_views.person_detail, name="person_detail"),
    path("people/<str:username>/edit/", people_views.person_edit, name="person_edit"),
    path("people/<str:username>/deactivate/", people_views.person_deactivate, name="person_deactivate"),
    path("people/<str:username>/reactivate/", people_views.person_reactivate, name="person_reactivate"),
    path("pods/", people_views.pod_list_view, name="pods"),
    path("pods/<id:pod_id>/leads/", people_views.pod_leads_edit, name="pod_leads_edit"),
    path("council/members/", people_views.council_members, name="council_members"),
    path("", include("proposals.urls")),
    path("projects/", include("registry.urls")),
    path("deployments/", include("serving.urls")),
    path("features/", include("serving.feature_urls")),
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
