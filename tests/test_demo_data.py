"""The demo a newcomer sees: every proposal state, last week's minutes, next week's agenda."""

import pytest
from django.core.management import call_command

from portal.models import User
from proposals.models import Meeting, MeetingState, Proposal, ProposalState
from serving.models import Endpoint, PredictionRecord
from serving.selectors import serving_manifest

pytestmark = pytest.mark.django_db


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
