"""The wire formats: KServe V1 and the Open Inference Protocol (KServe V2) REST.

Replies per task (``outputs_of``): regression, the value; binary, P(positive class) (the
second of the training classes); multiclass, ``{"label": <predicted class>, "probabilities":
{"<class>": p, ...}}`` in V1 and two V2 outputs, ``label`` (``[n]``) and ``probabilities``
(``[n, classes]``, classes in training order). Every reply also carries one prediction id per
instance (V1 ``prediction_ids``; V2 output ``prediction_ids``, BYTES) and the version that
answered each instance (V1 ``versions`` when a canary splits the batch; V2 ``model_versions``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson


class BadRequest(Exception):
    def __init__(self, status: int, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.details}


NUMERIC_TYPES = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                 "FP16", "FP32", "FP64"}
DATATYPES = NUMERIC_TYPES | {"BYTES"}


def json_load(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None


def v1_instances(payload: Any, max_batch: int) -> list:
    if not isinstance(payload, dict) or "instances" not in payload:
        raise BadRequest(400, 'a V1 predict body is an object {"instances": [...]}')
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequest(400, '"instances" must be a non-empty list')
    if len(instances) > max_batch:
        raise BadRequest(413, f"{len(instances)} instances in one request; at most {max_batch}")
    return instances


def _flatten(data: Any) -> list:
    if not isinstance(data, list):
        return [data]
    if data and all(not isinstance(d, list) for d in data):
        return data
    flat: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _tensor(raw: Any, index: int) -> tuple[str, list[int], str, list]:
    if not isinstance(raw, dict):
        raise BadRequest(400, f"input {index} must be an object with name, shape, datatype and data")
    name, shape, datatype, data = raw.get("name"), raw.get("shape"), raw.get("datatype"), raw.get("data")
    if not isinstance(name, str) or not name:
        raise BadRequest(400, f"input {index} needs a name")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 10**9 for d in shape)):
        raise BadRequest(400, f"input {name!r}: shape must be a list of sizes, such as [3] or [3, 7]")
    if datatype not in DATATYPES:
        raise BadRequest(400, f"input {name!r}: datatype must be one of {', '.join(sorted(DATATYPES))}")
    if data is None:
        raise BadRequest(400, f"input {name!r} has no data")
    flat = _flatten(data)
    size = 1
    for d in shape:
        size *= d
    if size != len(flat):
        raise BadRequest(400, f"input {name!r}: shape {shape} holds {size} values, data has {len(flat)}")
    if datatype in NUMERIC_TYPES:
        for i, v in enumerate(flat):
            if v is not None and (isinstance(v, (str, dict, list)) or (datatype != "BOOL" and isinstance(v, bool))):
                raise BadRequest(400, f"input {name!r} is {datatype} but value {i} is {type(v).__name__}",
                                 errors=[{"instance": i, "field": name, "message": f"expected {datatype}"}])
    return name, shape, datatype, flat


def v2_instances(payload: Any, features: list[str], max_batch: int) -> list:
    """Named tensors (one per feature, ``[n]`` or ``[n, 1]``) or one ``[n, features]`` tensor ->
    instances as lists in feature order."""
    tensors = _tensors_of(payload)
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and (tensors[0][0] not in features or len(features) == 1):
        name, shape, _, flat = tensors[0]
        n, width = shape
        if width != len(features):
            raise BadRequest(400, f"input {name!r} has {width} columns; the model takes {len(features)}: "
                                  f"{', '.join(features)}")
        _size_check(n, max_batch)
        return [flat[i * width:(i + 1) * width] for i in range(n)]
    known = set(features)
    errors = [{"instance": -1, "field": t[0], "message": "unknown feature"} for t in tensors if t[0] not in known]
    given = {t[0]: t for t in tensors}
    errors += [{"instance": -1, "field": f, "message": "missing feature"} for f in features if f not in given]
    if errors:
        raise BadRequest(400, "the inputs do not match the model's features: "
                              + "; ".join(f"{e['field']!r}: {e['message']}" for e in errors), errors=errors)
    _column_count(tensors, max_batch)
    columns = [given[f][3] for f in features]
    return [list(row) for row in zip(*columns)]


def v2_named_instances(payload: Any, accepted: frozenset[str], max_batch: int) -> list[dict] | None:
    """For an endpoint with feature views: named tensors (``[n]`` or ``[n, 1]``), each an entity
    key or a feature, any subset -> instances as objects. None for one ``[n, features]`` tensor
    (the matrix form, read by ``v2_instances``)."""
    tensors = _tensors_of(payload)
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][0] not in accepted:
        return None
    errors = [{"instance": -1, "field": t[0], "message": "neither a feature nor an entity key"}
              for t in tensors if t[0] not in accepted]
    if errors:
        raise BadRequest(400, "the inputs do not match the model's features and entity keys: "
                              + "; ".join(f"{e['field']!r}: {e['message']}" for e in errors), errors=errors)
    _column_count(tensors, max_batch)
    names = [t[0] for t in tensors]
    return [dict(zip(names, row)) for row in zip(*(t[3] for t in tensors))]


def _tensors_of(payload: Any) -> list[tuple[str, list[int], str, list]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise BadRequest(400, 'an infer body is an object {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    return [_tensor(raw, i) for i, raw in enumerate(payload["inputs"])]


def _column_count(tensors: list, max_batch: int) -> int:
    """How many instances one-column tensors (``[n]`` or ``[n, 1]``) hold: the same in each."""
    sizes = set()
    for name, shape, _, flat in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise BadRequest(400, f"input {name!r}: a feature tensor has shape [n] or [n, 1], not {shape}")
        sizes.add(len(flat))
    if len(sizes) != 1:
        raise BadRequest(400, f"the inputs hold different numbers of instances: {sorted(sizes)}")
    n = sizes.pop()
    _size_check(n, max_batch)
    return n


def _size_check(n: int, max_batch: int) -> None:
    if n == 0:
        raise BadRequest(400, "the request holds no instances")
    if n > max_batch:
        raise BadRequest(413, f"{n} instances in one request; at most {max_batch}")


def outputs_of(version, raw: np.ndarray) -> list:
    """One JSON value per instance (see the module docstring)."""
    if version.task != "multiclass":
        return raw.reshape(-1).tolist()
    classes = version.classes or list(range(raw.shape[1]))
    keys = [str(c) for c in classes]
    best = raw.argmax(axis=1).tolist()
    return [{"label": classes[b], "probabilities": dict(zip(keys, row))} for b, row in zip(best, raw.tolist())]


def v2_outputs(version, raw: np.ndarray, ids: list[str], versions: list[int]) -> list[dict]:
    n = len(ids)
    outputs = []
    if version.task != "multiclass":
        outputs.append({"name": "predictions", "datatype": "FP64", "shape": [n], "data": raw.reshape(-1).tolist()})
    else:
        classes = version.classes or list(range(raw.shape[1]))
        labels = [classes[i] for i in raw.argmax(axis=1).tolist()]
        numeric = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
        outputs.append({"name": "label", "datatype": "INT64" if numeric else "BYTES", "shape": [n],
                        "data": labels if numeric else [str(v) for v in labels]})
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [n, raw.shape[1]],
                        "data": raw.reshape(-1).tolist()})
    outputs.append({"name": "prediction_ids", "datatype": "BYTES", "shape": [n], "data": ids})
    outputs.append({"name": "model_versions", "datatype": "INT64", "shape": [n], "data": versions})
    return outputs


def v2_metadata(name: str, endpoint) -> dict[str, Any]:
    version = endpoint.primary
    numeric = set(version.preprocessing["numeric"])
    outputs = ([{"name": "label", "datatype": "BYTES", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(version.classes or [])]}]
               if version.task == "multiclass" else [{"name": "predictions", "datatype": "FP64", "shape": [-1]}])
    return {
        "name": name,
        "versions": [str(v.info.get("version")) for v in (endpoint.primary, endpoint.canary) if v is not None],
        "platform": {"lightgbm": "lightgbm", "torch": "pytorch"}.get(version.info.get("framework"), "mlflow"),
        "inputs": [{"name": f, "datatype": "FP64" if f in numeric else "BYTES", "shape": [-1]}
                   for f in version.features],
        "outputs": [*outputs, {"name": "prediction_ids", "datatype": "BYTES", "shape": [-1]},
                    {"name": "model_versions", "datatype": "INT64", "shape": [-1]}],
        "parameters": {"task": version.task, "classes": version.classes, "revision": endpoint.revision},
    }
