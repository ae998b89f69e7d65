"""From an alert email to the drifting feature's chart, in a real browser: a deployed, really trained
model runs calm for a few windows, then one feature drifts; the technical lead follows the email's
link, sees the feature marked and its charts with the thresholds, acknowledges and resolves the alert,
and finds the endpoint on the company's Monitoring page. Every monitoring page, at desktop and phone
width, fits the screen."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from observability import services as observability_services
from observability.models import Alert, AlertState, Monitor
from observability.tests.factories import log_predictions, monitored_endpoint, run_monitor, traffic
from portal.models import Notification
from serving.models import PredictionRecord
from tests.browser import DESKTOP, PHONE, no_overflow, person_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ENDPOINT = "delivery-eta"
HREF = re.compile(r'href="(https?://[^"]+/monitoring/endpoints/[^"]+)"')
TEXT_LINK = re.compile(r"https?://\S+/monitoring/endpoints/\S+")


def flash(page):
    return page.locator("ul.messages")



def charts_drawn(page) -> None:
    """Every Plotly chart on the page has drawn its SVG (Plotly renders after load)."""
    page.wait_for_function("""() => [...document.querySelectorAll('.model-chart .plotly-graph-div')]
        .every(d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg'))""")


def _label(ids: list[str], offset: float) -> None:
    """Ground truth for half the predictions: the model's output off by ``offset`` minutes."""
    outputs = dict(PredictionRecord.objects.filter(prediction_id__in=ids).values_list("prediction_id", "output"))
    observability_services.labels_ingest(by=None, labels=[{"prediction_id": pid, "label": outputs[pid] + offset}
                                                          for pid in ids[::2]])


@pytest.fixture
def drifted():
    """Three calm hourly windows, then one in which distance_km moved by 6 km: a feature_drift alert."""
    org, project, version, endpoint = monitored_endpoint(ENDPOINT)
    monitor = Monitor.objects.get(endpoint=endpoint)
    observability_services.promise_set(project=project, by=org.lead, metric="mae", target="3.0")
    now = timezone.now().replace(second=0, microsecond=0)
    windows = [(now - dt.timedelta(hours=h + 1), now - dt.timedelta(hours=h)) for h in (3, 2, 1, 0)]
    for i, (start, end) in enumerate(windows[:-1]):
        ids = log_predictions(ENDPOINT, version, traffic(version, rows=400, seed=30 + i),
                              at=end - dt.timedelta(minutes=10))
        _label(ids, offset=1.5 + i)
        calm = run_monitor(monitor, start=start, end=end)
        assert calm.status in ("ok", "warn") and calm.drifted == [], calm.features
    assert not Alert.objects.exists() and not [m for m in mail.outbox if m.subject.startswith("[alert]")]
    start, end = windows[-1]
    ids = log_predictions(ENDPOINT, version, traffic(version, rows=400, seed=40, shift={"distance_km": 6.0}),
                          at=end - dt.timedelta(minutes=10))
    _label(ids, offset=2.5)
    run = run_monitor(monitor, start=start, end=end)
    assert run.status == "alert" and run.drifted == ["distance_km"]
    alert = Alert.objects.get(condition="feature_drift")
    # Longer trips take longer: the predictions drifted too.
    assert set(Alert.objects.values_list("condition", flat=True)) == {"feature_drift", "prediction_drift"}
    org.lead.set_password("pw")
    org.lead.save()
    return org, project, version, endpoint, alert


def email_link(lead, alert) -> str:
    """The "See the charts" link in the alert email to the technical lead, as a mail client opens it
    (from the outbox, else from the stored notification)."""
    subject = "[alert] Feature drift on "
    emails = [(m.body, m.alternatives[0][0] if m.alternatives else "") for m in mail.outbox
              if lead.email in m.to and m.subject.startswith(subject)]
    if not emails:
        emails = list(Notification.objects.filter(email__iexact=lead.email, subject__startswith=subject)
                      .values_list("body_text", "body_html"))
    assert emails, f"no alert email to {lead.email}; outbox: {[m.to for m in mail.outbox]}"
    text, body_html = emails[0]
    assert "distance_km" in text and TEXT_LINK.search(text), text
    links = [html.unescape(h) for h in HREF.findall(body_html)]
    assert links, body_html
    assert links[0].startswith(settings.PORTAL_URL.rstrip("/"))
    assert links[0].endswith(f"?alert={alert.pk}&feature=distance_km#feature-distance_km"), links[0]
    return links[0]


def test_the_plain_text_alert_email_has_a_working_link():
    from django.template.loader import render_to_string

    from registry.models import MLProject

    alert = Alert(pk=7, condition="feature_drift", endpoint=ENDPOINT, features=["distance_km"],
                  summary="delivery-eta: distance_km drifted from the training data", monitor=Monitor(clean_runs_to_resolve=3))
    url = f"https://portal.example/monitoring/endpoints/{ENDPOINT}/?alert=7&feature=distance_km#feature-distance_km"
    text = render_to_string("observability/email/alert.txt", {"alert": alert, "url": url,
                                                              "project": MLProject(title="Courier's ETA")})
    assert url in text and "Courier's ETA" in text, text


def test_a_technical_lead_follows_an_alert_email_to_the_drifting_feature_and_resolves_it(
        browser, live_server, drifted):
    org, project, version, endpoint, alert = drifted
    link = email_link(org.lead, alert)
    url = live_server.url + link[len(settings.PORTAL_URL.rstrip("/")):]

    # --- the link, clicked while signed out: sign in, then the endpoint's monitoring -------------
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username").fill(org.lead.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    # The redirect after signing in drops the #fragment; the page still scrolls to the feature.
    expect(page).to_have_url(re.compile(rf"/monitoring/endpoints/{ENDPOINT}/\?alert={alert.pk}&feature=distance_km"))
    expect(page.get_by_role("heading", name=re.compile(rf"Monitoring\s+{ENDPOINT}"))).to_be_visible()
    row = page.locator("#feature-distance_km")
    expect(row).to_have_class(re.compile(r"\bselected-feature\b"))
    expect(row.locator(".badge")).to_have_text(re.compile(r"^alert$", re.I))
    expect(row).to_be_in_viewport()
    expect(page.locator("#features tbody tr").first).to_have_id("feature-distance_km")  # worst first
    # The other features are calm.
    expect(page.locator("#feature-items .badge")).to_have_text(re.compile(r"^ok$", re.I))

    alert_row = page.locator(f"#alert-{alert.pk}")
    expect(alert_row).to_have_class(re.compile(r"\bhighlight-alert\b"))
    expect(alert_row).to_contain_text("Feature drift")
    expect(alert_row.locator(".badge").first).to_have_text(re.compile(r"^open$", re.I))

    detail = page.locator("#feature-detail")
    expect(detail.locator("h2")).to_contain_text("distance_km")
    charts_drawn(page)
    expect(detail.locator(".model-chart .js-plotly-plot")).to_have_count(2)
    distribution, psi = detail.locator(".model-chart").nth(0), detail.locator(".model-chart").nth(1)
    expect(distribution).to_contain_text("training (reference)")
    expect(distribution).to_contain_text("this window")
    # The PSI chart draws the thresholds as dashed lines, labelled.
    expect(psi.locator(".annotation-text", has_text="alert 0.2")).to_have_count(1)
    expect(psi.locator(".annotation-text", has_text="warn 0.1")).to_have_count(1)
    dashed = psi.locator("path.hline, .shapelayer path")
    assert dashed.count() >= 2 and all("stroke-dasharray" in (dashed.nth(i).get_attribute("style") or "")
                                       for i in range(dashed.count()))
    # Four runs: four points on each feature's line.
    points = page.evaluate("""() => {
        const gd = document.querySelectorAll('#feature-detail .js-plotly-plot')[1];
        const trace = gd.data.find(t => t.name === 'distance_km');
        return trace.y.length; }""")
    assert points == 4
    expect(page.locator("#heatmap .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#quality .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#runs tbody tr")).to_have_count(4)
    screenshot(page, "monitoring-endpoint-from-email", full_page=False)
    screenshot(page, "monitoring-endpoint")
    no_overflow(page, "the endpoint's monitoring page")

    # Another feature's detail, from its row.
    page.locator("#feature-items a").click()
    expect(page.locator("#feature-detail h2")).to_contain_text("items")
    expect(page.locator("#feature-items")).to_have_class(re.compile(r"\bselected-feature\b"))
    page.go_back()
    expect(page.locator("#feature-detail h2")).to_contain_text("distance_km")

    # --- acknowledge, then resolve with a note ---------------------------------------------------
    alert_row = page.locator(f"#alert-{alert.pk}")
    alert_row.get_by_role("button", name="Acknowledge").click()
    expect(flash(page)).to_contain_text("Alert acknowledged")
    alert_row = page.locator(f"#alert-{alert.pk}")
    expect(alert_row.locator(".badge").first).to_have_text(re.compile(r"^acknowledged$", re.I))
    expect(alert_row).to_contain_text(f"Acknowledged by {org.lead.display_name}")
    expect(alert_row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert Alert.objects.get(pk=alert.pk).state == AlertState.ACKNOWLEDGED
    # It came back to where it was: the same feature still selected.
    expect(page.locator("#feature-detail h2")).to_contain_text("distance_km")

    # A resolution without a note: the browser asks for one, and the server refuses it anyway.
    note = alert_row.get_by_label("Resolution note")
    expect(note).to_have_attribute("required", "")
    note.evaluate("input => input.removeAttribute('required')")
    alert_row.get_by_role("button", name="Resolve").click()
    expect(flash(page)).to_contain_text("resolving an alert needs a note")
    assert Alert.objects.get(pk=alert.pk).state == AlertState.ACKNOWLEDGED

    alert_row = page.locator(f"#alert-{alert.pk}")
    alert_row.get_by_label("Resolution note").fill("Upstream geocoder switched to miles; fixed at the source")
    alert_row.get_by_role("button", name="Resolve").click()
    expect(flash(page)).to_contain_text("Alert resolved.")
    alert_row = page.locator(f"#alert-{alert.pk}")
    expect(alert_row.locator(".badge").first).to_have_text(re.compile(r"^resolved$", re.I))
    expect(alert_row).to_contain_text("Note: Upstream geocoder switched to miles")
    expect(alert_row).to_contain_text(f"Resolved by {org.lead.display_name}")
    expect(alert_row.get_by_role("button")).to_have_count(0)
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.state == AlertState.RESOLVED and stored.resolved_by_id == org.lead.pk

    # --- the company's Monitoring page ------------------------------------------------------------
    page.goto(f"{live_server.url}/monitoring/")
    expect(page.get_by_role("heading", name="Monitoring", exact=True)).to_be_visible()
    health = page.locator("#health tbody tr", has=page.get_by_role("link", name=ENDPOINT))
    expect(health).to_have_count(1)
    expect(health.locator(".badge").first).to_have_text(re.compile(r"^(alert|ok)$", re.I))
    expect(health).to_contain_text("distance_km")
    expect(health).to_contain_text("400")
    # The feature drift is resolved; the predictions' drift it caused is still open.
    open_alerts = page.locator("#open-alerts li")
    expect(open_alerts).to_have_count(1)
    expect(open_alerts).to_contain_text(f"Prediction drift on {ENDPOINT}")
    worst = page.locator("#worst tbody tr")
    expect(worst.first).to_contain_text("distance_km")
    expect(worst.first.locator(".badge")).to_have_text(re.compile(r"^alert$", re.I))
    expect(page.locator("#maturity")).to_contain_text(project.title)
    charts_drawn(page)
    screenshot(page, "monitoring-home")
    no_overflow(page, "the Monitoring page")

    # The worst feature's link leads back to its chart.
    worst.first.get_by_role("link", name="distance_km").click()
    expect(page.locator("#feature-detail h2")).to_contain_text("distance_km")

    # --- the panels on the endpoint and project pages --------------------------------------------
    page.goto(f"{live_server.url}/deployments/endpoints/{ENDPOINT}/")
    panel = page.locator("#monitoring")
    expect(panel).to_contain_text("Alert on 400 predictions")
    expect(panel).to_contain_text("distance_km")
    expect(panel.get_by_role("link", name=re.compile("Charts and settings"))).to_be_visible()
    panel.scroll_into_view_if_needed()
    screenshot(page, "monitoring-endpoint-panel")

    page.goto(f"{live_server.url}/projects/{project.pk}/")
    promise = page.locator("#promise")
    expect(promise).to_contain_text("Promised mae ≤ 3; delivered 2.5000 (kept)")
    expect(promise.locator(".js-plotly-plot")).to_have_count(1)
    expect(page.locator("#maturity")).to_contain_text("Google: level")
    promise.scroll_into_view_if_needed()
    screenshot(page, "monitoring-project-panels")

    # --- the same pages on a phone ---------------------------------------------------------------
    phone = person_page(browser, live_server, org.lead, viewport=PHONE,
                        next_path=f"/monitoring/endpoints/{ENDPOINT}/?feature=distance_km")
    for path, name in [(f"/monitoring/endpoints/{ENDPOINT}/?feature=distance_km", "monitoring-endpoint"),
                       ("/monitoring/", "monitoring-home"),
                       (f"/deployments/endpoints/{ENDPOINT}/", "monitoring-endpoint-panel"),
                       (f"/projects/{project.pk}/", "monitoring-project-panels")]:
        phone.goto(live_server.url + path)
        phone.wait_for_load_state("networkidle")
        charts_drawn(phone)
        screenshot(phone, f"{name}-phone")
        no_overflow(phone, f"{path} on a phone")
    phone.context.close()
    context.close()
