"""Baseline (b): a bare ASGI app, no framework: parse the JSON, call model.predict, answer.

Run: ``BENCH_MODELS=/path/models.json uvicorn bench.serving.bare_app:app --workers 2``.
The request body is KServe V1's ``{"instances": [{column: value, ...}]}``, the same bytes
roost receives; the columns are read in the model's order into a numpy array.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

_SPEC = json.loads(Path(os.environ["BENCH_MODELS"]).read_text())
_MODELS = {
    name: (spec["columns"], pickle.loads(Path(spec["pickle"]).read_bytes()))
    for name, spec in _SPEC.items()
}


async def _read(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    name = scope["path"].removeprefix("/v1/models/").removesuffix(":predict")
    columns, model = _MODELS[name]
    rows = json.loads(await _read(receive))["instances"]
    x = np.array([[row[c] for c in columns] for row in rows], dtype=np.float64)
    body = json.dumps({"predictions": model.predict(x).tolist()}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
