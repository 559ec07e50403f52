"""Baseline (a): the classic tutorial deployment, Flask behind gunicorn.

Run: ``BENCH_MODELS=/path/models.json gunicorn -w 2 bench.serving.flask_app:app``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
from flask import Flask, jsonify, request

_SPEC = json.loads(Path(os.environ["BENCH_MODELS"]).read_text())
_MODELS = {
    name: (spec["columns"], pickle.loads(Path(spec["pickle"]).read_bytes()))
    for name, spec in _SPEC.items()
}

app = Flask(__name__)


@app.post("/v1/models/<name>:predict")
def predict(name: str):  # type: ignore[no-untyped-def]
    columns, model = _MODELS[name]
    rows = request.get_json()["instances"]
    x = np.array([[row[c] for c in columns] for row in rows], dtype=np.float64)
    return jsonify({"predictions": model.predict(x).tolist()})
