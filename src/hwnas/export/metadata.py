"""What an exported model carries so it can be deployed without hwnas: ONNX ``metadata_props``.

Every key is a string (ONNX allows nothing else); structured values are JSON:

==================  ==========================================================================
key                 value
==================  ==========================================================================
metadata_version    this layout's version (:data:`METADATA_VERSION`)
hwnas_version       the hwnas that exported the model
class_names         JSON list: the name of each output logit, in label order
input_name          the graph input's name (``input``); ``output_name``: its output (logits)
input_shape         JSON list: the input of one sample with its batch axis first (``[1, 1, 8, 8]``);
                    the batch axis is dynamic
input_layout        ``NCHW`` (images), ``NCL`` (1-D signals), ``NC`` (vectors)
preprocessing       JSON object: what maps a raw image or signal to the input, applied in this order:
                    ``size`` [H, W] (resize to it), ``channels`` (1 grayscale, 3 RGB), ``scale``
                    (multiply the raw values), ``mean`` / ``std`` (subtract, then divide, per
                    channel, when present), ``layout`` (axis order of the batched input)
architecture        the architecture's text form in its space; ``architecture_json`` the same as JSON
space               the space's name; ``space_description`` its JSON description (options, dimensions)
metrics             JSON object: the metrics it was selected with (searched-split quality, test
                    accuracy, latency_ms, macs, params, ...)
selected_on         JSON list: the objectives of the search, as the metrics name them
==================  ==========================================================================

:func:`read_metadata` reads them back and checks them: a missing key, a value that is not valid
JSON or not of its type, or another metadata version is refused naming the file and the key.
"""

from __future__ import annotations

import json
import math
from importlib import metadata as importlib_metadata
from pathlib import Path

from hwnas.core.errors import DataError

#: the layout of the keys above; a reader refuses another version
METADATA_VERSION = 1

#: every key an exported model carries, and the JSON type of its value (None: plain text)
KEYS: dict[str, type | None] = {
    "metadata_version": None,
    "hwnas_version": None,
    "class_names": list,
    "input_name": None,
    "output_name": None,
    "input_shape": list,
    "input_layout": None,
    "preprocessing": dict,
    "architecture": None,
    "architecture_json": dict,
    "space": None,
    "space_description": dict,
    "metrics": dict,
    "selected_on": list,
}

_LAYOUTS = {4: "NCHW", 3: "NCL", 2: "NC"}


def hwnas_version() -> str:
    """The installed hwnas distribution's version (the package's own when run from a source tree)."""
    try:
        return importlib_metadata.version("hwnas")
    except importlib_metadata.PackageNotFoundError:
        from hwnas import __version__

        return __version__


def model_metadata(*, class_names: list[str], input_shape: tuple[int, ...], preprocessing: dict,
                   architecture: str, arch: dict, space: dict, metrics: dict, selected_on: list[str]) -> dict[str, str]:
    """The metadata of one exported classifier as ONNX ``metadata_props`` (every value a string).

    ``input_shape`` is one batched input (batch axis first); ``space`` the space's description (``name``
    plus options); ``metrics`` plain numbers.
    """
    layout = preprocessing.get("layout") or _LAYOUTS.get(len(input_shape), "")
    props = {
        "metadata_version": str(METADATA_VERSION),
        "hwnas_version": hwnas_version(),
        "class_names": json.dumps([str(c) for c in class_names]),
        "input_name": "input",
        "output_name": "output",
        "input_shape": json.dumps([int(d) for d in input_shape]),
        "input_layout": layout,
        "preprocessing": json.dumps(preprocessing, sort_keys=True),
        "architecture": architecture,
        "architecture_json": json.dumps(arch, sort_keys=True),
        "space": str(space.get("name", "")),
        "space_description": json.dumps(space, sort_keys=True, default=str),
        "metrics": json.dumps({k: _plain(v) for k, v in metrics.items()}, sort_keys=True),
        "selected_on": json.dumps(list(selected_on)),
    }
    return props


def _plain(value):
    """A metric as strict JSON: NaN and infinities (a metric not measured) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value) if isinstance(value, float) else value


def attach_metadata(model: bytes, props: dict[str, str], doc_string: str = "") -> bytes:
    """``model`` (ONNX bytes) with ``props`` as its ``metadata_props``, hwnas as producer, and ``doc_string``."""
    import onnx

    proto = onnx.load_from_string(model)
    onnx.helper.set_model_props(proto, props)
    proto.producer_name = "hwnas"
    proto.producer_version = props.get("hwnas_version", hwnas_version())
    if doc_string:
        proto.doc_string = doc_string
    return proto.SerializeToString()


def read_metadata(path: str | Path) -> dict:
    """The metadata of an ONNX model exported by hwnas, JSON values decoded, checked key by key.

    Raises DataError naming the file and the key for a missing key, a value that is not valid JSON or
    not of its type, or another metadata version.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise DataError(f"ONNX model {path} does not exist")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises protobuf's DecodeError and others for damaged files
        raise DataError(f"ONNX model {path} cannot be read (damaged or not ONNX?): {e}") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if "metadata_version" not in props:
        raise DataError(f"ONNX model {path}: metadata key 'metadata_version' missing (not exported by hwnas, "
                        f"or its metadata was removed); keys present: {sorted(props)}")
    if props["metadata_version"] != str(METADATA_VERSION):
        raise DataError(f"ONNX model {path}: metadata key 'metadata_version' is {props['metadata_version']!r}; "
                        f"this hwnas reads version {METADATA_VERSION}")
    out: dict = {}
    for key, kind in KEYS.items():
        if key not in props:
            raise DataError(f"ONNX model {path}: metadata key {key!r} missing; every hwnas model carries "
                            f"{sorted(KEYS)}")
        value = props[key]
        if kind is not None:
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise DataError(f"ONNX model {path}: metadata key {key!r} is not valid JSON ({e})") from None
            if not isinstance(value, kind):
                raise DataError(f"ONNX model {path}: metadata key {key!r} must be a JSON {kind.__name__}, "
                                f"got {type(value).__name__}")
        out[key] = value
    if not all(isinstance(d, int) and d > 0 for d in out["input_shape"]):
        raise DataError(f"ONNX model {path}: metadata key 'input_shape' must list positive integers, "
                        f"got {out['input_shape']}")
    if not all(isinstance(c, str) for c in out["class_names"]):
        raise DataError(f"ONNX model {path}: metadata key 'class_names' must list strings")
    return out
