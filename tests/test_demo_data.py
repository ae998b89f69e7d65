"""The demo a newcomer sees: every proposal state, last week's minutes, next week's agenda."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.models import User
from proposals.models import Meeting, MeetingState, Proposal, ProposalState
from serving.models import Endpoint, PredictionRecord
from serving.selectors import serving_manifest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


def test_seed_demo_builds_a_complete_story_and_is_safe_to_run_again(django_capture_on_commit_callbacks, settings):
    settings.DEBUG = True
    with django_capture_on_commit_callbacks(execute=False):
        call_command("seed_demo")
    assert set(Proposal.objects.values_list("state", flat=True)) == set(ProposalState.values)
    past = Meeting.objects.get(state=MeetingState.MINUTES_PUBLISHED)
    assert {i.outcome for i in past.items.all()} == {"approved", "rejected", "split"}
    upcoming = Meeting.objects.filter(state=MeetingState.SCHEDULED).get()
    assert upcoming.items.filter(vote_open=True).count() == 2
    assert upcoming.items.filter(kind="escalation").exists()
    assert User.objects.get(username="alice").check_password("demo")
    # A live endpoint: the champion serving, the challenger shadowing it, an hour of traffic.
    endpoint = Endpoint.objects.get(name="delivery-eta")
    live = endpoint.live_revision
    assert endpoint.state == "serving" and live.primary.params["framework"] == "lightgbm"
    assert [s.params["framework"] for s in live.shadows.all()] == ["torch"]
    assert PredictionRecord.objects.filter(endpoint="delivery-eta", role="shadow").count() > 100
    assert "delivery-eta" in serving_manifest()["endpoints"]

    # Monitoring: hourly runs, the couriers' load drifting lately, an open alert on the agenda, a promise.
    from observability.models import Alert, MonitorRun, QualityPromise

    runs = MonitorRun.objects.filter(monitor__endpoint=endpoint).order_by("window_end")
    assert runs.count() >= 12 and runs.first().drifted == [] and "courier_load" in runs.last().drifted
    assert runs.filter(quality__rows__gt=50).count() >= 10
    alert = Alert.objects.get(endpoint="delivery-eta", condition="feature_drift")
    assert alert.state == "open" and alert.features == ["courier_load"] and alert.agenda_item_id
    assert QualityPromise.objects.get(project=endpoint.project).metric == "mae"

    # The feature store: one view on each tier, materialized, the feed's bad rows rejected.
    from serving.models import FeatureView

    zones, couriers = FeatureView.objects.get(name="zone_conditions"), FeatureView.objects.get(name="courier_stats")
    assert (zones.online_tier, couriers.online_tier) == ("redis", "sql")
    assert zones.stats["entities"] == 6 and couriers.stats["entities"] == 240
    assert zones.stats["rejected"] == 1 and couriers.stats["rejected"] == 1
    # A training set built from both onto the orders, a version trained on it, serving from entity keys.
    live = Endpoint.objects.get(name="delivery-eta-live")
    version = live.live_revision.primary
    assert version.dataset.lineage["kind"] == "training_set"
    assert [v["name"] for v in version.dataset.lineage["views"]] == ["zone_conditions", "courier_stats"]
    served = serving_manifest()["endpoints"]["delivery-eta-live"]
    assert [v["name"] for v in served["feature_views"]] == ["zone_conditions", "courier_stats"]
    from portal.tests.fixtures import client_for, text_of

    page = client_for(User.objects.get(username="erin")).get("/deployments/endpoints/delivery-eta-live/")
    assert "Reads its features from zone_conditions (by zone , redis tier) and courier_stats" in text_of(page)
    assert '"zone":' in page.context["try_body"] and '"minutes"' not in page.context["try_body"]

    _assert_the_story_keeps_its_dates(past, upcoming)

    counts = (User.objects.count(), Proposal.objects.count(), Meeting.objects.count(), PredictionRecord.objects.count())
    with django_capture_on_commit_callbacks(execute=False):
        call_command("seed_demo")
    assert (User.objects.count(), Proposal.objects.count(), Meeting.objects.count(),
            PredictionRecord.objects.count()) == counts


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.exists()


def _assert_the_story_keeps_its_dates(past, upcoming):
    """Reviews, votes, history and emails happen on the days the story says, never in the future."""
    from django.utils import timezone

    from portal.models import AuditEvent, Notification
    from proposals.models import PodReview, Vote
    from serving.models import EndpointRevision

    now = timezone.now()
    held = timezone.localdate(past.scheduled_for)
    assert past.scheduled_for < now <= upcoming.scheduled_for + dt.timedelta(days=1)
    # The votes of last week's meeting, and their audit events, on that meeting's day.
    votes = Vote.objects.filter(item__meeting=past)
    assert votes.count() == 16
    assert {timezone.localdate(v.created_at) for v in votes} == {held}
    voted = AuditEvent.objects.filter(verb="council.voted", data__meeting=past.pk)
    assert voted.count() == 16 and {timezone.localdate(e.created_at) for e in voted} == {held}
    decided = AuditEvent.objects.filter(verb__in=["council.approved", "council.rejected", "council.escalated"])
    assert {timezone.localdate(e.created_at) for e in decided} == {held}
    # The proposals decided there were reviewed by their pods before it, and decided on its day.
    eta = Proposal.objects.get(title="Delivery time prediction")
    assert all(r.created_at < past.scheduled_for for r in PodReview.objects.filter(proposal=eta))
    assert eta.submitted_at < past.scheduled_for and timezone.localdate(eta.decided_at) == held
    assert eta.created_at < eta.submitted_at
    published = AuditEvent.objects.get(verb="meeting.minutes_published", object_id=str(past.pk))
    assert timezone.localdate(published.created_at) == held
    # The minutes email went out when the minutes were published.
    emails = Notification.objects.filter(object_type="meeting", object_id=str(past.pk))
    assert emails.exists() and all(e.created_at >= published.created_at and timezone.localdate(e.created_at) == held
                                   for e in emails)
    # After the meeting: the project, its training and the deployment, in that order.
    created = AuditEvent.objects.get(verb="project.created", data__proposal_id=eta.pk)
    first_deploy = EndpointRevision.objects.filter(endpoint__name="delivery-eta").order_by("number").first()
    assert eta.decided_at <= created.created_at < first_deploy.created_at < now
    # Nothing in the history, the votes or the outbox is in the future.
    assert not AuditEvent.objects.filter(created_at__gt=now).exists()
    assert not Vote.objects.filter(created_at__gt=now).exists()
    assert not Notification.objects.filter(created_at__gt=now).exists()
    assert not Proposal.objects.filter(created_at__gt=now).exists()
    # And the history reads in order: each event after the one before it on the same object.
    for proposal in Proposal.objects.all():
        times = list(AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk))
                     .order_by("id").values_list("created_at", flat=True))
        assert times == sorted(times), proposal.title


def test_seed_demo_refuses_a_shared_database_unless_asked(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = True
    settings.DATABASE_URL = "postgres://portal@db.internal:5432/portal"
    settings.PORTAL_DEMO = False

    with pytest.raises(CommandError, match="--allow-shared-database or set PORTAL_DEMO=1"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_seed_demo_run_against_database_url_loads_nothing(tmp_path):
    """As ``./dev run`` or a copied README line would run it: refused before touching the database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PORTAL_DEMO", "DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path / "var"),
               DATABASE_URL="postgres://portal:s3cret@127.0.0.1:1/portal")

    result = subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "Refusing to load the demo people" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
