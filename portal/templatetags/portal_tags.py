from django import template

from portal import history
from portal.selectors import audit_history_for

register = template.Library()


@register.inclusion_tag("components/_audit_timeline.html")
def audit_timeline(obj, limit: int = 200):
    """The audit events of any object, oldest first, as sentences; repeats fold into one line."""
    return {"lines": history.lines(audit_history_for(obj, limit=limit)), "object": obj}


@register.inclusion_tag("components/_history_line.html")
def history_line(line):
    """One timeline line: its sentence, when, and the raw event(s) on demand."""
    return {"line": line}


@register.inclusion_tag("components/_state_badge.html")
def state_badge(state: str, label: str | None = None):
    return {"state": state, "label": label or str(state).replace("_", " ")}
