"""Every list page and API list runs the same number of queries whatever the number of rows.

Each case builds 5 rows, counts the queries of one GET, builds up to 50 rows and counts
again: the two counts must be equal. HTML pages show 25 rows a page and the API 50, so the
second count is always taken on a full page.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.models import AuditEvent, Function, Notification, NotificationState
from portal.tests.factories import CouncilMembershipFactory, PodFactory, PodLeadFactory, UserFactory
from proposals.models import (
    AgendaItem, ItemKind, Meeting, MeetingState, PodReview, Proposal, ProposalKind, ProposalState, TeamMember, Vote,
)
from proposals.tests.factories import Org, make_org
from registry import selectors as registry_selectors
from registry.models import AliasEvent, Dataset, MLProject, ModelVersion, RegisteredModel, TrainingConfig
from workers.models import Job, JobState

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 50
HTML_PAGE_SIZE, API_PAGE_SIZE = 25, 50

_serial = itertools.count(1)
_rows = itertools.count(1)


def _n() -> int:
    """A number for a unique name."""
    return next(_serial)


def _row() -> int:
    """The running number of a list row: consecutive, so ``_row() % k`` goes through every variant."""
    return next(_rows)


# --- measuring ------------------------------------------------------------------------------

def _shape(sql: str) -> str:
    """The query with its literals taken out, so that per-row repeats of one query group together."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    sql = re.sub(r"IN \((?:\?, )*\?\)", "IN (...)", sql)
    sql = re.sub(r'(?:"\w+"\."\w+" = \? OR )+"\w+"\."\w+" = \?', "<any of ids>", sql)
    return re.sub(r'(?:"\w+"\."\w+", )+"\w+"\."\w+"', "<columns>", sql)


def _get(client: Client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    return response, [q["sql"] for q in queries.captured_queries]


def _extra_sql(small: list[str], large: list[str]) -> str:
    grown = Counter(map(_shape, large)) - Counter(map(_shape, small))
    shrunk = Counter(map(_shape, small)) - Counter(map(_shape, large))
    lines = [f"  +{n} x {sql}" for sql, n in grown.most_common()]
    lines += [f"  -{n} x {sql}" for sql, n in shrunk.most_common()]
    return "\n".join(lines) or "  (same queries, different order)"


def assert_constant_queries(client: Client, url: str, add_rows, shown, *, page_size: int) -> tuple[int, int]:
    """``add_rows(n)`` adds n rows to the list at ``url``; ``shown(response)`` counts the rows a response shows."""
    add_rows(SMALL)
    response, small = _get(client, url)
    assert shown(response) == SMALL, f"{url} shows {shown(response)} rows, expected {SMALL}"
    add_rows(LARGE - SMALL)
    response, large = _get(client, url)
    assert shown(response) == min(LARGE, page_size), f"{url} shows {shown(response)} rows, expected a full page"
    assert len(small) == len(large), (
        f"GET {url}: {len(small)} queries with {SMALL} rows, {len(large)} with {LARGE}; extra SQL:\n"
        + _extra_sql(small, large)
    )
    print(f"{url}: {len(small)} queries with {SMALL} rows, {len(large)} with {LARGE}")
    return len(small), len(large)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_rows(response) -> int:
    return len(response.json()["results"])


def links(pattern: str):
    """Counts the distinct links matching ``pattern`` on an HTML page."""
    regex = re.compile(pattern)
    return lambda response: len(set(regex.findall(response.content.decode())))


# --- rows -----------------------------------------------------------------------------------

@pytest.fixture
def org() -> Org:
    return make_org()


def person(function=Function.DATA_SCIENTIST, **kwargs):
    return UserFactory(username=f"user{_n()}", function=function, **kwargs)


def proposal_row(org: Org, *, state=ProposalState.COUNCIL_REVIEW, pod=None, **fields) -> Proposal:
    """A proposal as people write them: its own author, lead and two-person team, and watchers."""
    n = _n()
    author, lead, engineer = person(Function.PM), person(Function.DATA_SCIENTIST), person(Function.ML_ENGINEER)
    proposal = Proposal.objects.create(
        title=f"Predict churn {n}", kind=ProposalKind.ML_APPLICATION, pod=pod or org.pod, author=author,
        technical_lead=lead, state=state, business_problem="Customers leave.", proposed_solution="A model.",
        estimated_yearly_impact=100000, build_cost_person_weeks=4, yearly_maintenance_cost=1000,
        third_party_options="None fit.", biggest_blocker="statistical_performance",
        platform_components=["feature store"], review_round=1, submitted_at=timezone.now(), **fields,
    )
    TeamMember.objects.create(proposal=proposal, user=lead, role="lead")
    TeamMember.objects.create(proposal=proposal, user=engineer, role="engineer")
    proposal.watchers.add(author, person(Function.ANALYST))
    return proposal


def add_proposals(org: Org, **fields):
    def add(count: int) -> None:
        for _ in range(count):
            proposal = proposal_row(org, **fields)
            PodReview.objects.create(proposal=proposal, review_round=1, function=Function.PM, reviewer=org.pm,
                                     decision="approve")
    return add


def project_shell(org: Org) -> MLProject:
    """An approved proposal's project, owned by its lead, with the proposal's team."""
    proposal = proposal_row(org, state=ProposalState.APPROVED, decided_at=timezone.now())
    project = MLProject.objects.create(proposal=proposal, name=f"churn-{proposal.pk}", title=proposal.title,
                                       owner=proposal.technical_lead)
    project.team.add(*[m.user for m in proposal.team_members.all()])
    return project


def dataset_row(by=None) -> Dataset:
    n = _n()
    return Dataset.objects.create(
        name=f"orders {n}", path=f"by-sha256/{n:064d}.csv", sha256=f"{n:064d}", format="csv", size_bytes=1000 * n,
        rows=100 * n, schema=[{"name": "amount", "dtype": "float64", "kind": "numeric", "missing_rate": 0.0,
                               "unique_count": 10, "samples": [1.0]}],
        preview={"columns": ["amount"], "rows": [[1.0]]}, original_filename="orders.csv", uploaded_by=by,
    )


def model_row(project: MLProject, dataset: Dataset) -> tuple[RegisteredModel, TrainingConfig]:
    model = RegisteredModel.objects.create(project=project, name=f"{project.name}-{_n()}")
    config = TrainingConfig.objects.create(registered_model=model, dataset=dataset, target="churned",
                                           numeric_features=["age"], task="binary", framework="lightgbm",
                                           created_by=project.owner)
    return model, config


def version_row(model: RegisteredModel, config: TrainingConfig, number: int) -> ModelVersion:
    """A version trained by a job, registered without MLflow; the first becomes champion, the second
    challenger (and a failed attempt to make it champion stays in the history)."""
    project = model.project
    job = Job.objects.create(kind="training", queue="training", state=JobState.SUCCEEDED, progress=100,
                             started_by=project.owner, object_type="mlproject", object_id=str(project.pk),
                             params={"config_id": config.pk})
    version = ModelVersion.objects.create(
        registered_model=model, version=number, mlflow_run_id=f"run{_n()}", training_job=job, training_config=config,
        dataset=config.dataset, metrics={"auc": 0.8 + number / 100, "log_loss": 0.4},
        params={"task": "binary", "framework": "lightgbm"}, created_by=project.owner,
    )
    if number == 1:
        AliasEvent.objects.create(registered_model=model, model_version=version, alias="champion",
                                  moved_by=project.owner, reason="First model")
    else:
        AliasEvent.objects.create(registered_model=model, model_version=version, alias="challenger",
                                  moved_by=project.owner, reason="Shadow it")
        AliasEvent.objects.create(registered_model=model, model_version=version, alias="champion",
                                  previous_version=model.versions.get(version=1), moved_by=project.owner,
                                  reason="Won", state="failed", error="MLflow unreachable")
    return version


def project_row(org: Org) -> MLProject:
    """A project with two models of two versions each, aliases, and a training job per version."""
    project = project_shell(org)
    dataset = dataset_row(by=project.owner)
    for _ in range(2):
        model, config = model_row(project, dataset)
        for number in (1, 2):
            version_row(model, config, number)
    return project


# --- people ---------------------------------------------------------------------------------

def test_people_list_page(org):
    """People of one pod, each with their pod, the pods they lead and whether they are on the Council."""
    pod = PodFactory(name="Roster")
    functions = [Function.PM, Function.EM, Function.DS_MANAGER, Function.ANALYTICS_MANAGER]

    def add(count: int) -> None:
        for _ in range(count):
            row = _row()
            user = UserFactory(username=f"roster{_n()}", pod=pod, function=functions[row % 4])
            if row % 2:
                PodLeadFactory(pod=PodFactory(name=f"Led pod {_n()}"), function=user.function, user=user)
            if row % 3 == 0:
                CouncilMembershipFactory(user=user)

    assert_constant_queries(client_for(org.outsider), "/people/?pod=Roster", add,
                            links(r'href="/people/(roster\d+)/"'), page_size=HTML_PAGE_SIZE)


# --- proposals ------------------------------------------------------------------------------



def test_proposal_list_page(org):
    """The table: authors, pods, leads, teams and watchers of proposals not waiting for this person."""
    assert_constant_queries(client_for(org.outsider), "/proposals/", add_proposals(org),
                            links(r'href="/proposals/(\d+)/"'), page_size=HTML_PAGE_SIZE)


def test_proposal_list_page_as_a_pod_lead(org):
    # The EM lead owes a review of each (the PM lead has approved them).
    assert_constant_queries(client_for(org.em), "/proposals/", add_proposals(org, state=ProposalState.POD_REVIEW),
                            links(r'href="/proposals/(\d+)/"'), page_size=HTML_PAGE_SIZE)


def test_my_queue_page(org):
    """The chair, also a council member and a pod lead: reviews, votes, drafts and escalations waiting."""
    user = org.chair
    pod = PodFactory(name="Payments")
    PodLeadFactory(pod=pod, function=Function.PM, user=user)
    meeting = Meeting.objects.create(scheduled_for=timezone.now() + timedelta(days=2))
    kinds = itertools.cycle(range(4))

    def add(count: int) -> None:
        for _ in range(count):
            kind = next(kinds)
            if kind == 0:
                proposal_row(org, state=ProposalState.POD_REVIEW, pod=pod)
            elif kind == 1:
                proposal = proposal_row(org)
                item = AgendaItem.objects.create(meeting=meeting, title=proposal.title, proposal=proposal,
                                                 vote_open=True)
                Vote.objects.create(item=item, voter=org.council[1], choice="approve")
            elif kind == 2:
                proposal = proposal_row(org, state=ProposalState.CHANGES_REQUESTED)
                Proposal.objects.filter(pk=proposal.pk).update(author=user)
            else:
                proposal_row(org, state=ProposalState.ESCALATED)

    def shown(response) -> int:
        lists = re.findall(r'<ul class="queue-list">(.*?)</ul>', response.content.decode(), flags=re.S)
        return sum(part.count("<li>") for part in lists)

    assert_constant_queries(client_for(user), "/proposals/queue/", add, shown, page_size=LARGE)


def test_proposal_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/proposals/", add_proposals(org), api_rows,
                            page_size=API_PAGE_SIZE)


def add_meetings(org: Org):
    start = timezone.now() - timedelta(days=400)

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            published = n % 2 == 0
            meeting = Meeting.objects.create(
                scheduled_for=start + timedelta(days=7 * n),
                state=MeetingState.MINUTES_PUBLISHED if published else MeetingState.SCHEDULED,
                minutes_published_at=timezone.now() if published else None,
                minutes_published_by=person(Function.ML_INFRA_ENGINEER) if published else None,
            )
            meeting.attendees.add(*org.council[:3], person())
            for position in range(2):
                proposal = proposal_row(org)
                item = AgendaItem.objects.create(meeting=meeting, position=position, title=proposal.title,
                                                 proposal=proposal, kind=ItemKind.REVIEW, outcome="approved")
                for member in org.council:
                    Vote.objects.create(item=item, voter=member, choice="approve")
    return add


def test_meeting_list_page(org):
    assert_constant_queries(client_for(org.council[1]), "/council/meetings/", add_meetings(org),
                            links(r'href="/council/meetings/(\d+)/"'), page_size=HTML_PAGE_SIZE)


def test_meeting_list_api(org):
    assert_constant_queries(client_for(org.council[1]), "/api/v1/meetings/", add_meetings(org), api_rows,
                            page_size=API_PAGE_SIZE)


def add_notifications(org: Org):
    meetings = [Meeting.objects.create(scheduled_for=timezone.now() - timedelta(days=7 * i),
                                       state=MeetingState.MINUTES_PUBLISHED) for i in range(1, 4)]

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            recipient = person() if n % 3 else None
            about = meetings[n % len(meetings)] if n % 2 else None
            Notification.objects.create(
                recipient=recipient, email=recipient.email if recipient else f"list{n}@example.com",
                subject=f"Minutes {n}", body_text="...", dedupe_key=f"minutes:{n}",
                object_type="meeting" if about else "proposal", object_id=str(about.pk if about else n),
                state=NotificationState.SENT if n % 4 else NotificationState.FAILED, attempts=1 + n % 3,
                last_error="" if n % 4 else "SMTP down", sent_at=timezone.now() if n % 4 else None,
            )
    return add


def test_notification_list_page(org):
    assert_constant_queries(client_for(org.chair), "/council/emails/", add_notifications(org),
                            lambda r: r.content.decode().count("Minutes "), page_size=HTML_PAGE_SIZE)


def test_notification_list_api(org):
    assert_constant_queries(client_for(org.chair), "/api/v1/notifications/", add_notifications(org), api_rows,
                            page_size=API_PAGE_SIZE)


# --- registry -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _data_folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"


def add_projects(org: Org):
    return lambda count: [project_row(org) for _ in range(count)]


def test_project_list_page(org):
    assert_constant_queries(client_for(org.outsider), "/projects/", add_projects(org),
                            links(r'href="/projects/(\d+)/"'), page_size=HTML_PAGE_SIZE)
    # Each row still shows its 2 models, 4 versions, latest version and last training.
    html = client_for(org.outsider).get("/projects/").content.decode()
    assert html.count("2<span class=\"muted small\"> · 4 versions</span>") == HTML_PAGE_SIZE
    latest = ModelVersion.objects.order_by("-created_at", "-id").first()
    assert f'href="/projects/versions/{latest.pk}/">v2</a>' in html
    assert len(re.findall(r'href="/jobs/\d+/"', html)) == HTML_PAGE_SIZE
    last_job = Job.objects.filter(kind="training").order_by("-created_at", "-id").first()
    assert f'href="/jobs/{last_job.pk}/"' in html


def test_project_list_page_searched_and_sorted(org):
    # Search reaches owners, teams and model names through subqueries: still one query for the rows.
    assert_constant_queries(client_for(org.outsider), "/projects/?q=churn&sort=-versions", add_projects(org),
                            links(r'href="/projects/(\d+)/"'), page_size=HTML_PAGE_SIZE)


def test_model_version_list_page(org):
    """The models page: versions of many projects with their aliases and key metric, searched by metric name."""
    def add(count: int) -> None:
        for _ in range(count):
            project = project_shell(org)
            model, config = model_row(project, dataset_row(by=project.owner))
            version_row(model, config, 1)

    assert_constant_queries(client_for(org.outsider), "/projects/versions/?q=auc&sort=project", add,
                            links(r'href="/projects/versions/(\d+)/"'), page_size=HTML_PAGE_SIZE)


def test_project_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/projects/", add_projects(org), api_rows,
                            page_size=API_PAGE_SIZE)


def add_datasets(count: int) -> None:
    for _ in range(count):
        dataset_row(by=person() if _row() % 3 else None)


def test_dataset_list_page(org):
    # The page lists 50 datasets a page.
    assert_constant_queries(client_for(org.outsider), "/projects/datasets/?q=orders&sort=-size", add_datasets,
                            links(r'href="/projects/datasets/(\d+)/"'), page_size=50)


def test_dataset_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/datasets/", add_datasets, api_rows,
                            page_size=API_PAGE_SIZE)


def test_model_version_list_api(org):
    """Versions of many models and projects, two per model, with their champion and challenger."""
    state = {"model": None, "config": None, "number": 0, "project": None}

    def add(count: int) -> None:
        for _ in range(count):
            if state["number"] == 2 or state["model"] is None:
                if state["project"] is None or state["project"].models.count() == 2:
                    state["project"] = project_shell(org)
                state["model"], state["config"] = model_row(state["project"], dataset_row(by=org.lead))
                state["number"] = 0
            state["number"] += 1
            version_row(state["model"], state["config"], state["number"])

    assert_constant_queries(client_for(org.outsider), "/api/v1/model-versions/", add, api_rows,
                            page_size=API_PAGE_SIZE)
    # The aliases come from the list's own query and say what aliases_current says.
    rows = client_for(org.outsider).get("/api/v1/model-versions/").json()["results"]
    for row in rows:
        version = ModelVersion.objects.select_related("registered_model").get(pk=row["id"])
        current = registry_selectors.aliases_current(model=version.registered_model)
        assert row["aliases"] == [alias for alias, holder in current.items() if holder.pk == version.pk]
    assert {tuple(row["aliases"]) for row in rows} == {("champion",), ("challenger",)}


def test_training_job_list_api(org):
    project = project_shell(org)

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            Job.objects.create(kind="training", queue="training", progress=n % 101, started_by=person(),
                               state=[JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED][n % 4],
                               object_type="mlproject", object_id=str(project.pk), params={"config_id": n})

    assert_constant_queries(client_for(org.outsider), "/api/v1/training-jobs/", add, api_rows,
                            page_size=API_PAGE_SIZE)


# --- workers and portal ---------------------------------------------------------------------

def add_jobs(count: int) -> None:
    kinds = ["training", "system_check", "project_create", "minutes_send"]
    states = [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]
    for _ in range(count):
        n = _row()
        Job.objects.create(kind=kinds[n % len(kinds)], state=states[n % len(states)], progress=n % 101,
                           message=f"Step {n}", started_by=person() if n % 3 else None,
                           cancel_requested_by=person() if n % 5 == 0 else None,
                           object_type="mlproject", object_id=str(n))


def test_job_list_page(org):
    assert_constant_queries(client_for(org.outsider), "/jobs/", add_jobs, links(r'href="/jobs/(\d+)/"'),
                            page_size=HTML_PAGE_SIZE)


def test_job_list_page_named_after_their_objects(org):
    """Training, deploy and monitor jobs named after their project, endpoint and version: one query per kind."""
    from observability.models import Monitor

    endpoint = endpoint_row(org)
    project = endpoint.project
    monitor = Monitor.objects.create(endpoint=endpoint, checks=["psi"])
    revision = endpoint.live_revision
    version = revision.primary

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            if n % 3 == 0:
                Job.objects.create(kind="training", state=JobState.SUCCEEDED, started_by=project.owner,
                                   object_type="mlproject", object_id=str(project.pk),
                                   result={"model_version": {"id": version.pk, "name": "m", "version": n}})
            elif n % 3 == 1:
                Job.objects.create(kind="deploy", started_by=project.owner, object_type="endpoint",
                                   object_id=str(endpoint.pk), params={"revision_id": revision.pk})
            else:
                Job.objects.create(kind="monitor_run", object_type="monitor", object_id=str(monitor.pk),
                                   params={"monitor_id": monitor.pk})

    Job.objects.all().delete()
    assert_constant_queries(client_for(org.outsider), "/jobs/?sort=-created", add, links(r'href="/jobs/(\d+)/"'),
                            page_size=HTML_PAGE_SIZE)
    page = client_for(org.outsider).get("/jobs/").content.decode()
    assert f"{revision.get_action_display()} of {endpoint.name} (revision {revision.number})" in page
    assert f"Monitor run of {endpoint.name}" in page and f"Training of {project.title} → v" in page


def test_job_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/jobs/", add_jobs, api_rows, page_size=API_PAGE_SIZE)


def test_audit_event_list_api(org):
    client = client_for(org.outsider)
    before = AuditEvent.objects.count()  # the people made for the test, and their signing in, are audited too

    def shown(response) -> int:
        return min(response.json()["count"] - before, api_rows(response))

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            AuditEvent.objects.create(actor=person() if n % 4 else None, verb="proposal.submitted",
                                      object_type="proposal", object_id=str(n), object_repr=f"Proposal {n}",
                                      from_state="draft", to_state="pod_review", data={"n": n})

    assert_constant_queries(client, "/api/v1/audit-events/", add, shown, page_size=API_PAGE_SIZE)


def test_home_page_recent_jobs(org):
    # The home page shows the 6 most recent jobs people started (the portal's own jobs are hidden).
    def add_people_jobs(count: int) -> None:
        for _ in range(count):
            n = _row()
            Job.objects.create(kind=["training", "system_check", "reference_backfill"][n % 3], state=JobState.SUCCEEDED,
                               started_by=person() if n % 2 else None, object_type="mlproject", object_id=str(n))
        Job.objects.create(kind="prediction_drain", state=JobState.SUCCEEDED)  # never on anyone's home page

    assert_constant_queries(client_for(org.outsider), "/", add_people_jobs, links(r'href="/jobs/(\d+)/"'),
                            page_size=6)


def test_home_page_queue(org):
    def shown(response) -> int:
        match = re.search(r'<span class="count">(\d+)</span> pod review', response.content.decode())
        return int(match.group(1)) if match else 0

    assert_constant_queries(client_for(org.em), "/", add_proposals(org, state=ProposalState.POD_REVIEW), shown,
                            page_size=LARGE)


def test_home_page_my_proposals(org):
    # The home page lists the proposals I wrote with what each waits for (up to 8 of them).
    me = person(Function.PM)

    def add(count: int) -> None:
        states = [ProposalState.POD_REVIEW, ProposalState.COUNCIL_REVIEW, ProposalState.DRAFT, ProposalState.ESCALATED]
        for _ in range(count):
            proposal = proposal_row(org, state=states[_row() % len(states)])
            Proposal.objects.filter(pk=proposal.pk).update(author=me)

    assert_constant_queries(client_for(me), "/", add, lambda r: len(re.findall(
        r'<tr><td><a href="/proposals/\d+/">', r.content.decode())), page_size=8)


# --- deployments ----------------------------------------------------------------------------

def endpoint_row(org: Org):
    """An endpoint serving a primary, a canary at 10 % and a shadow, with a history of two revisions."""
    from serving.models import Endpoint, EndpointRevision

    project = project_shell(org)
    model, config = model_row(project, dataset_row(by=project.owner))
    primary, canary, shadow = (version_row(model, config, number) for number in (1, 2, 3))
    endpoint = Endpoint.objects.create(name=f"endpoint-{_n()}", project=project, state="serving")
    first = EndpointRevision.objects.create(endpoint=endpoint, number=1, action="deploy", state="live", primary=primary,
                                            reason="first", created_by=project.owner, published_at=timezone.now())
    live = EndpointRevision.objects.create(endpoint=endpoint, number=2, action="canary_set", state="live",
                                           primary=primary, canary=canary, canary_share=10, reason="try",
                                           created_by=project.owner, published_at=timezone.now())
    live.shadows.set([shadow])
    endpoint.live_revision = live
    endpoint.save()
    return endpoint


def add_endpoints(org: Org):
    return lambda count: [endpoint_row(org) for _ in range(count)]


def test_deployments_page(org):
    assert_constant_queries(client_for(org.outsider), "/deployments/", add_endpoints(org),
                            links(r'href="/deployments/endpoints/([\w-]+)/"'), page_size=LARGE)


def test_endpoint_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/endpoints/", add_endpoints(org), api_rows,
                            page_size=API_PAGE_SIZE)


# --- monitoring -----------------------------------------------------------------------------

def monitored_row(org: Org):
    """An endpoint with its monitor, two runs with per-feature results, and an open alert."""
    from observability.models import Alert, Monitor, MonitorRun

    endpoint = endpoint_row(org)
    monitor = Monitor.objects.create(endpoint=endpoint, checks=["psi", "ks"])
    now = timezone.now()
    features = {"distance_km": {"psi": 0.3, "status": "alert"}, "items": {"psi": 0.01, "status": "ok"}}
    for hours in (2, 1):
        run = MonitorRun.objects.create(monitor=monitor, window_start=now - timedelta(hours=hours + 1),
                                        window_end=now - timedelta(hours=hours), row_count=500, status="alert",
                                        features=features, drifted=["distance_km"])
    Alert.objects.create(monitor=monitor, endpoint=endpoint.name, condition="feature_drift", summary="drift",
                         features=["distance_km"], opened_by_run=run)
    return monitor


def add_monitored(org: Org):
    return lambda count: [monitored_row(org) for _ in range(count)]


def test_monitoring_page(org):
    assert_constant_queries(client_for(org.outsider), "/monitoring/", add_monitored(org),
                            links(r'href="/monitoring/endpoints/([\w-]+)/"'), page_size=LARGE)


def test_monitor_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/monitors/", add_monitored(org), api_rows,
                            page_size=API_PAGE_SIZE)


def test_monitor_run_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/monitor-runs/", lambda count: _add_runs(org, count),
                            api_rows, page_size=API_PAGE_SIZE)


def _add_runs(org: Org, count: int) -> None:
    from observability.models import MonitorRun

    monitor = monitored_row(org)
    MonitorRun.objects.filter(monitor=monitor).order_by("id").first().delete()
    now = timezone.now()
    for i in range(count - 1):
        MonitorRun.objects.create(monitor=monitor, window_start=now - timedelta(hours=i + 3),
                                  window_end=now - timedelta(hours=i + 2), row_count=10, status="ok")


def test_alert_list_api(org):
    assert_constant_queries(client_for(org.outsider), "/api/v1/alerts/?state=open", add_monitored(org), api_rows,
                            page_size=API_PAGE_SIZE)


# --- my notifications ---------------------------------------------------------------------------

def add_my_notifications(user):
    from portal.models import InAppNotification, NotificationKind

    kinds = NotificationKind.values

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            InAppNotification.objects.create(
                recipient=user, kind=kinds[n % len(kinds)], title=f"Event {n}", body="What happens next.",
                url=f"/proposals/{n}/", dedupe_key=f"proposal:{n}:event:{n}",
                channel=("in_app", "email", "digest")[n % 3],
                read_at=timezone.now() if n % 2 else None, digested_at=timezone.now() if n % 3 == 2 else None,
            )
    return add


def test_my_notifications_page(org):
    assert_constant_queries(client_for(org.author), "/notifications/", add_my_notifications(org.author),
                            links(r'href="/notifications/(\d+)/open/"'), page_size=HTML_PAGE_SIZE)


def test_my_notifications_api(org):
    assert_constant_queries(client_for(org.author), "/api/v1/me/notifications/", add_my_notifications(org.author),
                            api_rows, page_size=API_PAGE_SIZE)


# --- history --------------------------------------------------------------------------------

def _history_lines(response) -> int:
    return response.content.decode().count('class="history-line')


def test_proposal_page_with_a_long_history(org):
    """A timeline of many events by many people reads in sentences with the same queries as a short one."""
    proposal = proposal_row(org)
    verbs = ["council.voted", "proposal.pod_reviewed", "agenda.item_added", "council.vote_changed"]
    meeting = Meeting.objects.create(scheduled_for=timezone.now() + timedelta(days=2))

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            # A different person each time, so nothing folds; every line names its actor.
            AuditEvent.objects.create(actor=person(), verb=verbs[n % len(verbs)], object_type="proposal",
                                      object_id=str(proposal.pk), object_repr=proposal.title,
                                      data={"vote": "approve", "decision": "approve", "functions": ["pm"],
                                            "comment": f"Reason {n}", "title": f"Item {n}", "meeting": meeting.pk,
                                            "meeting_at": meeting.scheduled_for.isoformat()})

    assert_constant_queries(client_for(org.outsider), f"/proposals/{proposal.pk}/", add, _history_lines,
                            page_size=LARGE)


def test_meeting_page_with_attendance_history(org):
    """Attendance lines name people by username: their names come in one query, however many."""
    meeting = Meeting.objects.create(scheduled_for=timezone.now() + timedelta(days=2))

    def add(count: int) -> None:
        for _ in range(count):
            n = _row()
            added = [person().username, person().username]
            AuditEvent.objects.create(actor=person(), verb="meeting.attendance_recorded", object_type="meeting",
                                      object_id=str(meeting.pk), object_repr=str(meeting),
                                      data={"present": added, "added": added, "removed": [], "n": n})

    assert_constant_queries(client_for(org.outsider), f"/council/meetings/{meeting.pk}/", add, _history_lines,
                            page_size=LARGE)


def test_endpoint_page_with_a_long_history(org):
    """Each revision tells its story from the endpoint's audit events, all read in one query."""
    from serving.models import EndpointRevision

    endpoint = endpoint_row(org)
    first = endpoint.revisions.order_by("number").first()
    start = endpoint.revisions.count()

    def add(count: int) -> None:
        for _ in range(count):
            number = endpoint.revisions.count() + 1
            by = person()
            EndpointRevision.objects.create(endpoint=endpoint, number=number, action="deploy", state="failed",
                                            primary=first.primary, reason=f"try {number}", created_by=by)
            for verb in ("endpoint.change_requested", "endpoint.deploy_failed"):
                AuditEvent.objects.create(actor=by, verb=verb, object_type="endpoint", object_id=str(endpoint.pk),
                                          object_repr=endpoint.name,
                                          data={"revision": number, "action": "deploy", "reason": f"try {number}",
                                                "job_id": number, "error": "refused",
                                                "serving": {"primary": 1}, "before": {"primary": 1}})

    def shown(response) -> int:
        return len(re.findall(r"<strong>Revision \d+</strong>", response.content.decode())) - start

    # The page shows the 50 latest revisions, the endpoint's first ones included.
    assert_constant_queries(client_for(org.outsider), f"/deployments/endpoints/{endpoint.name}/", add, shown,
                            page_size=50 - start)
