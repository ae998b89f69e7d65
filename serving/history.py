"""The sentences of the serving verbs (endpoints, their revisions and deploy jobs).

Registered with ``portal.history`` from ``ServingConfig.ready()``; pure functions of event dicts.
Events written before the versions were recorded in them still read, with the action's name.
"""

from __future__ import annotations

from portal import history as h
from portal.history import Sentence, who

ACTIONS = {"deploy": "deploy", "canary_set": "set a canary", "canary_clear": "clear the canary",
           "canary_promote": "promote the canary", "shadow_add": "add a shadow", "shadow_remove": "remove a shadow",
           "rollback": "roll back", "undeploy": "stop serving"}


def _data(e: dict) -> dict:
    return e.get("data") or {}


def _v(n) -> str:
    return f"v{n}" if n not in (None, "") else ""


def _changed_shadows(d: dict) -> tuple[list, list]:
    after = set((d.get("serving") or {}).get("shadows") or [])
    before = set((d.get("before") or {}).get("shadows") or [])
    return sorted(after - before), sorted(before - after)


def _wish(d: dict) -> str:
    """What a request asks for, in words ("add shadow v2")."""
    action, now, before = d.get("action"), d.get("serving") or {}, d.get("before") or {}
    added, removed = _changed_shadows(d)
    primary, canary = _v(now.get("primary")), _v(now.get("canary"))
    words = {
        "deploy": f"deploy {primary} as primary" if primary else "",
        "canary_set": f"send {now.get('canary_share')}% of requests to canary {canary}" if canary else "",
        "canary_promote": f"promote canary {primary} to primary" if primary else "",
        "canary_clear": f"clear canary {_v(before.get('canary'))}".rstrip(),
        "shadow_add": f"add shadow {h.listing(_v(x) for x in added)}" if added else "",
        "shadow_remove": f"remove shadow {h.listing(_v(x) for x in removed)}" if removed else "",
        "rollback": f"roll back to {primary}" if primary else "",
        "undeploy": "stop serving",
    }.get(action)
    return words or ACTIONS.get(action, h.label(action))


def _change(d: dict) -> str:
    """What a published revision changed, in words ("shadow v2 added")."""
    action, now, before = d.get("action"), d.get("serving") or {}, d.get("before") or {}
    added, removed = _changed_shadows(d)
    primary, canary = _v(now.get("primary")), _v(now.get("canary"))
    words = {
        "deploy": f"{primary} as primary" if primary else "",
        "canary_set": f"canary {canary} at {now.get('canary_share')}%" if canary else "",
        "canary_promote": f"canary {primary} promoted to primary" if primary else "",
        "canary_clear": f"canary {_v(before.get('canary'))} cleared" if before.get("canary") else "canary cleared",
        "shadow_add": f"shadow {h.listing(_v(x) for x in added)} added" if added else "",
        "shadow_remove": f"shadow {h.listing(_v(x) for x in removed)} removed" if removed else "",
        "rollback": f"rolled back to {primary}" if primary else "",
        "undeploy": "nothing served",
    }.get(action)
    return words or ACTIONS.get(action, h.label(action))


def created(e):
    project = _data(e).get("project")
    return f"{who(e)} created the endpoint" + (f" for {project}" if project else "")


def change_requested(e):
    d = _data(e)
    text = f"{who(e)} asked to {_wish(d)}"
    if d.get("revision"):
        text += f" (revision {d['revision']})"
    return Sentence(text, h.quote(d.get("reason")))


def revision_published(e):
    d = _data(e)
    what = f"revision {d['revision']}" if d.get("revision") else "a revision"
    change = _change(d)
    if d.get("job_id"):
        # The request's line already quotes the reason.
        return f"Deploy job #{d['job_id']} published {what} ({change})"
    return Sentence(f"{who(e)} published {what} ({change})", h.quote(d.get("reason")))


def deploy_failed(e):
    d = _data(e)
    by = f"Deploy job #{d['job_id']}" if d.get("job_id") else "The deploy job"
    text = f"{by} could not publish revision {d.get('revision')}; the previous revision keeps serving"
    return Sentence(text, h.quote(d.get("error"), 200))


def register() -> None:
    h.register_labels({"serving": "serving", "undeployed": "not serving", "pending": "pending"})
    h.register("endpoint.created", created)
    h.register("endpoint.change_requested", change_requested)
    h.register("endpoint.revision_published", revision_published)
    h.register("endpoint.deploy_failed", deploy_failed)
