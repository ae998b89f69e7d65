from django import template

from portal.selectors import audit_events_for

register = template.Library()


@register.inclusion_tag("components/_audit_timeline.html")
def audit_timeline(obj, limit: int = 200):
    """The audit events of any object, oldest first."""
    events = list(audit_events_for(obj)[:limit])
    return {"events": events, "object": obj}


@register.inclusion_tag("components/_state_badge.html")
def state_badge(state: str, label: str | None = None):
    return {"state": state, "label": label or str(state).replace("_", " ")}
