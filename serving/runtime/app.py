"""The ASGI app: parse -> validate -> encode -> predict -> reply. Logging, shadows and metrics
export happen off the reply's path (see ``Runtime``)."""

from __future__ import annotations

import logging
import os
import time
import uuid

import numpy as np
import orjson

from registry.model_code import InvalidInstances
from serving.runtime import protocol
from serving.runtime.features import FeatureTiers, instances_build
from serving.runtime.metrics import Metrics
from serving.runtime.prediction_log import PredictionLog
from serving.runtime.protocol import BadRequest
from serving.runtime.reconcile import Reconciler
from serving.runtime.shadows import ShadowScorer

logger = logging.getLogger(__name__)

JSON = [(b"content-type", b"application/json")]
PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


class Runtime:
    """Everything one serving process holds: the reconciler (and its table), the prediction
    log, the shadow scorer and the metrics."""

    def __init__(self, config, source=None):
        self.config = config
        self.metrics = Metrics()
        self.reconciler = Reconciler(config, self.metrics, source)
        self.log = PredictionLog(config, self.metrics)
        self.shadows = ShadowScorer(config, self.metrics, self.log, protocol.outputs_of)
        self.features = FeatureTiers(config)

    def start(self) -> None:
        self.log.start()
        self.shadows.start()
        self.reconciler.start()

    def stop(self) -> None:
        self.reconciler.stop()
        self.log.stop()


def _ids(n: int) -> list[str]:
    prefix = os.urandom(8).hex()
    return [f"{prefix}-{i}" for i in range(n)]


def app_build(runtime: Runtime):
    config = runtime.config
    metrics = runtime.metrics
    max_body = config.max_body_bytes

    async def reply(send, status: int, body, headers=JSON) -> None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    async def read_body(scope, receive) -> bytes:
        for key, value in scope.get("headers") or ():
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise BadRequest(400, "the Content-Length header is not a number") from None
                if declared > max_body:
                    raise BadRequest(413, f"the body is {declared} bytes; at most {max_body}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_body:
                raise BadRequest(413, f"the body is over {max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def endpoint_get(name: str):
        endpoint = runtime.reconciler.table.get(name)
        if endpoint is None:
            raise BadRequest(404, f"no endpoint named {name!r}")
        if endpoint.primary is None:
            raise BadRequest(503, f"endpoint {name!r} has no live version")
        return endpoint

    def score(endpoint, instances: list):
        """(raw outputs in instance order, the version answering each, the log items)."""
        split = endpoint.split(instances)
        started = time.perf_counter()
        if split is None or not any(split):
            parts = [(endpoint.primary, "primary", None)]
        elif all(split):
            parts = [(endpoint.canary, "canary", None)]
        else:
            canary_at = [i for i, s in enumerate(split) if s]
            primary_at = [i for i, s in enumerate(split) if not s]
            parts = [(endpoint.primary, "primary", primary_at), (endpoint.canary, "canary", canary_at)]
        results, errors = [], []
        for version, role, at in parts:
            subset = instances if at is None else [instances[i] for i in at]
            try:
                results.append((version, role, at, subset, version.predict(subset)))
            except InvalidInstances as bad:
                errors += [(at[i] if at is not None and i >= 0 else i, f, m) for i, f, m in bad.errors]
        if errors:
            errors.sort(key=lambda e: e[0])
            raise InvalidInstances(errors)
        seconds = time.perf_counter() - started
        if len(results) == 1:
            version, role, _, _, raw = results[0]
            versions = [version.info.get("version")] * len(instances)
        else:
            first = results[0][4]
            raw = np.empty((len(instances), *first.shape[1:]), dtype=np.float64)
            versions = [None] * len(instances)
            for version, role, at, _, part in results:
                raw[at] = part
                for i in at:
                    versions[i] = version.info.get("version")
        return raw, versions, results, seconds

    def after_reply(endpoint, results, ids: list[str], seconds: float, instances: list) -> None:
        for version, role, at, subset, part in results:
            count, latency = metrics.for_version(endpoint.name, version.info.get("version"), role)
            count.inc(len(subset))
            latency.observe(seconds)
            runtime.log.put(endpoint.name, endpoint.revision, version, role,
                            ids if at is None else [ids[i] for i in at], subset,
                            protocol.outputs_of(version, part), seconds * 1000)
        if endpoint.shadows:
            runtime.shadows.put(endpoint, instances, ids)

    async def predict(scope, receive, send, name: str, v2: bool) -> None:
        endpoint = endpoint_get(name)
        payload = protocol.json_load(await read_body(scope, receive))
        version = endpoint.primary
        plan = endpoint.features
        if v2:
            instances = None
            if plan is not None:
                instances = protocol.v2_named_instances(payload, plan.accepted, config.max_batch)
            if instances is None:
                instances = protocol.v2_instances(payload, version.features, config.max_batch)
        else:
            instances = protocol.v1_instances(payload, config.max_batch)
        try:
            if plan is not None:
                built = instances_build(plan, runtime.features, instances)
                instances = built.instances
            raw, versions, results, seconds = score(endpoint, instances)
        except InvalidInstances as bad:
            raise BadRequest(400, str(bad), errors=bad.as_details()) from None
        ids = _ids(len(instances))
        if v2:
            outputs = protocol.v2_outputs(version, raw, ids, versions)
            wanted = payload.get("outputs")
            if isinstance(wanted, list) and wanted:
                names = {o.get("name") for o in wanted if isinstance(o, dict)}
                outputs = [o for o in outputs if o["name"] in names or o["name"] == "prediction_ids"]
            request_id = payload.get("id")
            body = {"model_name": name, "model_version": str(version.info.get("version")),
                    "id": request_id if isinstance(request_id, str) else ids[0].rsplit("-", 1)[0],
                    "parameters": {"revision": endpoint.revision}, "outputs": outputs}
            if plan is not None:
                body["parameters"].update(features=built.info, feature_store=built.store)
        else:
            body = {"predictions": protocol.outputs_of(version, raw), "model_version": version.info.get("version"),
                    "prediction_ids": ids}
            if len(results) > 1 or results[0][1] == "canary":
                body["versions"] = versions
            if plan is not None:
                body["features"] = built.info
                body["feature_store"] = built.store
        await reply(send, 200, body)
        after_reply(endpoint, results, ids, seconds, instances)

    async def route(scope, receive, send) -> None:
        method, path = scope["method"], scope["path"]
        if path.startswith("/v1/models/"):
            rest = path[len("/v1/models/"):]
            if rest.endswith(":predict"):
                if method != "POST":
                    raise BadRequest(405, "predict takes POST")
                return await predict(scope, receive, send, rest[:-len(":predict")], v2=False)
            if method != "GET" or "/" in rest:
                raise BadRequest(404, f"no route {method} {path}")
            endpoint = endpoint_get(rest)
            return await reply(send, 200, {"name": rest, "ready": True, "model_version": endpoint.primary.info.get("version"),
                                           "revision": endpoint.revision})
        if path.startswith("/v2/models/"):
            parts = path[len("/v2/models/"):].split("/")
            name = parts[0]
            if parts[1:] == ["infer"]:
                if method != "POST":
                    raise BadRequest(405, "infer takes POST")
                return await predict(scope, receive, send, name, v2=True)
            if method != "GET":
                raise BadRequest(405, f"{path} takes GET")
            if parts[1:] == []:
                return await reply(send, 200, protocol.v2_metadata(name, endpoint_get(name)))
            if parts[1:] == ["ready"]:
                endpoint_get(name)
                return await reply(send, 200, {"name": name, "ready": True})
            raise BadRequest(404, f"no route {method} {path}")
        if method != "GET":
            raise BadRequest(404 if path not in ("/healthz", "/readyz", "/metrics") else 405, f"no route {method} {path}")
        if path in ("/healthz", "/v2/health/live"):
            return await reply(send, 200, {"live": True})
        if path in ("/readyz", "/v2/health/ready"):
            ready = runtime.reconciler.ready
            return await reply(send, 200 if ready else 503, {"ready": ready})
        if path == "/metrics":
            return await reply(send, 200, metrics.render(), PROMETHEUS)
        if path == "/v2":
            return await reply(send, 200, {"name": "ml-council-portal-serving", "version": "1", "extensions": []})
        raise BadRequest(404, f"no route {method} {path}")

    async def lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        if scope["type"] != "http":
            return
        try:
            await route(scope, receive, send)
        except BadRequest as bad:
            label = _endpoint_label(scope["path"], runtime)
            metrics.errors.labels(label, str(bad.status)).inc()
            if label:
                runtime.log.error(label)
            await reply(send, bad.status, bad.body())
        except ConnectionError:
            return
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            logger.exception("error %s answering %s %s", error_id, scope.get("method"), scope.get("path"))
            label = _endpoint_label(scope["path"], runtime)
            metrics.errors.labels(label, "500").inc()
            if label:
                runtime.log.error(label)
            await reply(send, 500, {"error": f"the model failed to answer; error id {error_id}", "error_id": error_id})

    return app


def _endpoint_label(path: str, runtime: Runtime) -> str:
    """The endpoint named in the path when it is served (any other path would grow the labels)."""
    for prefix in ("/v1/models/", "/v2/models/"):
        if path.startswith(prefix):
            name = path[len(prefix):].split("/")[0]
            name = name[:-len(":predict")] if name.endswith(":predict") else name
            return name if name in runtime.reconciler.table else ""
    return ""
