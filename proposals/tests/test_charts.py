"""Council charts, without Django: counts in, a Plotly figure out."""

from proposals.charts import STATE_COLOURS, proposals_by_pod_figure

STATES = [("draft", "Draft"), ("approved", "Approved"), ("rejected", "Rejected")]


def test_one_stacked_bar_per_pod_and_one_trace_per_state_that_occurs():
    fig = proposals_by_pod_figure({"Delivery": {"draft": 2, "approved": 1}, "Payments": {"approved": 3}}, states=STATES)
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["Draft", "Approved"]  # nobody is rejected
    approved = fig.data[1]
    assert list(approved.x) == ["Delivery", "Payments"] and list(approved.y) == [1, 3]
    assert approved.marker.color == STATE_COLOURS["approved"]


def test_pods_with_most_proposals_come_first():
    fig = proposals_by_pod_figure({"A": {"draft": 1}, "B": {"draft": 4}}, states=STATES)
    assert list(fig.data[0].x) == ["B", "A"]
