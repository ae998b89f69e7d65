"""The sentences of the registry's verbs (projects, datasets, versions, aliases, retraining).

Registered with ``portal.history`` from ``RegistryConfig.ready()``; pure functions of event dicts.
"""

from __future__ import annotations

from portal import history as h
from portal.history import Sentence, who
from workers.cron import describe


def _data(e: dict) -> dict:
    return e.get("data") or {}


def project_created(e):
    model = _data(e).get("registered_model")
    return f"{who(e)} created the project from the approved proposal" + (f"; its model is {model}" if model else "")


def training_started(e):
    d = _data(e)
    text = f"{who(e)} started training {d.get('model') or 'a model'}"
    if d.get("framework"):
        text += f" ({d['framework']})"
    if d.get("dataset"):
        text += f" on {d['dataset']}"
    if d.get("job_id"):
        text += f", job #{d['job_id']}"
    return text


def project_state(e):
    verb = {"project.suspended": "suspended", "project.reinstated": "reinstated"}.get(e.get("verb"))
    if verb is None:
        return None
    return Sentence(f"{who(e)} {verb} the project", h.quote(_data(e).get("rationale")))


def dataset_registered(e):
    d = _data(e)
    facts = [f"{d['rows']:,} rows" if isinstance(d.get("rows"), int) else "",
             h.plural(d["columns"], "column") if isinstance(d.get("columns"), int) else ""]
    facts = [f for f in facts if f]
    source = {"upload": "uploaded", "data folder": "registered from the data folder"}.get(d.get("source"), "registered")
    return f"{who(e)} {source} the dataset" + (f": {', '.join(facts)}" if facts else "")


def version_registered(e):
    d = _data(e)
    version = f"{d.get('model')} v{d['version']}" if d.get("version") else (e.get("object_repr") or "the version")
    if d.get("job_id"):
        return f"Training job #{d['job_id']} registered {version}"
    return f"{who(e)} registered {version}"


def alias_moved(e):
    d = _data(e)
    alias, before, after = d.get("alias") or "the alias", e.get("from_state"), e.get("to_state")
    if before and before != after:
        text = f"{who(e)} moved {alias} from {before} to {after}"
    else:
        text = f"{who(e)} made {after or 'it'} the {alias}"
    if d.get("confirmed_worse"):
        text += ", confirming it although its metric is worse than the champion's"
    return Sentence(text, h.quote(d.get("reason")))


def alias_move_failed(e):
    d = _data(e)
    text = f"{who(e)} tried to make {e.get('object_repr') or 'this version'} the {d.get('alias') or 'alias'}, but MLflow refused"
    if d.get("error"):
        text += f" ({h.quote(d['error'], 160)})"
    return Sentence(text, h.quote(d.get("reason")))


def retraining_scheduled(e):
    schedule = _data(e).get("schedule")
    return f"{who(e)} scheduled retraining" + (f": {describe(schedule).lower()}" if schedule else "")


def register() -> None:
    h.register_labels({"active": "active", "suspended": "suspended", "registered": "registered"})
    h.register("project.created", project_created)
    h.register("project.training_started", training_started)
    h.register("project.", project_state)
    h.register("dataset.registered", dataset_registered)
    h.register("model_version.registered", version_registered)
    h.register("model_version.alias_moved", alias_moved)
    h.register("model_version.alias_move_failed", alias_move_failed)
    h.register("model.retraining_scheduled", retraining_scheduled)
    h.register("model.retraining_stopped", lambda e: f"{who(e)} stopped the retraining schedule")
