"""The unmodified ``tritonclient.http`` clients (gevent and aio) against a real roost server.

Each case runs with binary tensors (tritonclient's default) and with pure JSON
(``binary_data=False`` on inputs and requested outputs), plain and with a compressed
request body, for the column model (iris: one input per column) and the tensor model
(digits: one ``[n, 8]`` input).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient
from tritonclient.utils import InferenceServerException

from roost.store import Registry

pytestmark = pytest.mark.integration

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: one flower of each species (rows 0, 50 and 100 of the iris data)
IRIS_ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]])
IRIS_LABELS = ["setosa", "versicolor", "virginica"]
DIGITS_ROWS = np.random.default_rng(1).normal(size=(5, 8))

MODES = ["binary", "json"]
COMPRESSIONS = [None, "gzip", "deflate"]


@pytest.fixture
def triton_url(live_url: str) -> str:
    """tritonclient takes ``host:port``, without a scheme."""
    return live_url.removeprefix("http://")


@pytest.fixture
def client(triton_url: str) -> Iterator[httpclient.InferenceServerClient]:
    triton = httpclient.InferenceServerClient(url=triton_url)
    try:
        yield triton
    finally:
        triton.close()


def _iris_inputs(binary: bool, shape: str = "[n]") -> list[Any]:
    inputs = []
    for i, column in enumerate(IRIS_COLUMNS):
        values = IRIS_ROWS[:, i] if shape == "[n]" else IRIS_ROWS[:, i : i + 1]
        tensor = httpclient.InferInput(column, list(values.shape), "FP64")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _digits_inputs(binary: bool) -> list[Any]:
    tensor = httpclient.InferInput("input", list(DIGITS_ROWS.shape), "FP64")
    tensor.set_data_from_numpy(DIGITS_ROWS, binary_data=binary)
    return [tensor]


def _outputs(binary: bool) -> list[Any] | None:
    """None keeps tritonclient's default (it then asks for binary_data_output)."""
    if binary:
        return None
    return [
        httpclient.InferRequestedOutput("label", binary_data=False),
        httpclient.InferRequestedOutput("probabilities", binary_data=False),
    ]


def _expected_digits(registry: Registry) -> tuple[list[int], np.ndarray]:
    model = registry.load("digits:1")
    rows = model.predict(DIGITS_ROWS)
    return [r["label"] for r in rows], np.array([r["probabilities"] for r in rows])


def _text(value: str | bytes) -> str:
    """tritonclient gives BYTES elements as bytes from binary data, as str from JSON."""
    return value.decode() if isinstance(value, bytes) else value


def _check_iris(result: Any) -> None:
    assert [_text(v) for v in result.as_numpy("label")] == IRIS_LABELS
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert result.get_response()["model_version"] == "1"


def _check_digits(result: Any, registry: Registry) -> None:
    labels, probabilities = _expected_digits(registry)
    assert result.as_numpy("label").tolist() == labels
    np.testing.assert_allclose(result.as_numpy("probabilities"), probabilities)


# ------------------------------------------------------------------ the gevent client


def test_triton_health_and_readiness(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.is_model_ready("digits", "1")
    assert not client.is_model_ready("missing")
    assert not client.is_model_ready("iris", "9")


def test_triton_server_metadata_lists_binary_extension(
    client: httpclient.InferenceServerClient,
) -> None:
    metadata = client.get_server_metadata()
    assert metadata["name"] == "roost"
    assert "binary_tensor_data" in metadata["extensions"]


def test_triton_model_metadata_maps_columns_to_inputs(
    client: httpclient.InferenceServerClient,
) -> None:
    metadata = client.get_model_metadata("iris", "1")
    assert [i["name"] for i in metadata["inputs"]] == IRIS_COLUMNS
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert metadata["outputs"][0] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [-1],
        "parameters": {"content_type": "str"},
    }
    assert client.get_model_metadata("digits")["inputs"] == [
        {"name": "input", "datatype": "FP64", "shape": [-1, 8]}
    ]


def test_triton_unknown_model_raises_404(client: httpclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.get_model_metadata("missing")
    assert info.value.status() == "404"
    assert "model 'missing' is not served here" in info.value.message()


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_triton_infer_iris_columns(
    client: httpclient.InferenceServerClient, mode: str, compression: str | None
) -> None:
    binary = mode == "binary"
    result = client.infer(
        "iris",
        _iris_inputs(binary),
        outputs=_outputs(binary),
        request_id="42",
        request_compression_algorithm=compression,
    )
    _check_iris(result)
    assert result.get_response()["id"] == "42"


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_triton_infer_digits_tensor(
    client: httpclient.InferenceServerClient,
    serving_registry: Registry,
    mode: str,
    compression: str | None,
) -> None:
    binary = mode == "binary"
    result = client.infer(
        "digits",
        _digits_inputs(binary),
        model_version="1",
        outputs=_outputs(binary),
        request_compression_algorithm=compression,
    )
    _check_digits(result, serving_registry)


def test_triton_infer_columns_shaped_n_by_1(client: httpclient.InferenceServerClient) -> None:
    """MLServer's pandas codec sends each column as ``[n, 1]``; that works too."""
    _check_iris(client.infer("iris", _iris_inputs(True, shape="[n,1]")))


def test_triton_infer_mixed_binary_and_json_outputs(
    client: httpclient.InferenceServerClient,
) -> None:
    outputs = [
        httpclient.InferRequestedOutput("probabilities", binary_data=True),
        httpclient.InferRequestedOutput("label", binary_data=False),
    ]
    result = client.infer("iris", _iris_inputs(False), outputs=outputs)
    _check_iris(result)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probabilities", "label"]


def test_triton_infer_wrong_datatype_raises_400(client: httpclient.InferenceServerClient) -> None:
    tensor = httpclient.InferInput("input", [1, 8], "BYTES")
    tensor.set_data_from_numpy(np.array([[b"x"] * 8], dtype=object))
    with pytest.raises(InferenceServerException) as info:
        client.infer("digits", [tensor])
    assert info.value.status() == "400"
    assert info.value.message() == "input 'input': expected datatype FP64 (float64), got BYTES"


def test_triton_infer_unknown_model_raises_404(client: httpclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer("missing", _digits_inputs(True))
    assert info.value.status() == "404"


# --------------------------------------------------------------------- the aio client


def _run(triton_url: str, scenario: Any) -> Any:
    """Run ``scenario(client)`` with a fresh aio client, closed afterwards."""

    async def main() -> Any:
        triton = aioclient.InferenceServerClient(url=triton_url)
        try:
            return await scenario(triton)
        finally:
            await triton.close()

    return asyncio.run(main())


def test_triton_aio_health_and_metadata(triton_url: str) -> None:
    """aiohttp sends Accept-Encoding: gzip and no auto-decompression: metadata stays plain."""

    async def scenario(triton: Any) -> tuple[Any, ...]:
        return (
            await triton.is_server_live(),
            await triton.is_server_ready(),
            await triton.is_model_ready("iris"),
            await triton.is_model_ready("missing"),
            (await triton.get_server_metadata())["extensions"],
            (await triton.get_model_metadata("digits", "1"))["inputs"][0]["shape"],
        )

    assert _run(triton_url, scenario) == (True, True, True, False, ["binary_tensor_data"], [-1, 8])


def test_triton_aio_unknown_model_raises_404(triton_url: str) -> None:
    async def scenario(triton: Any) -> Any:
        return await triton.get_model_metadata("missing")

    with pytest.raises(InferenceServerException) as info:
        _run(triton_url, scenario)
    assert info.value.status() == "404"


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_triton_aio_infer_iris_columns(triton_url: str, mode: str, compression: str | None) -> None:
    """The aio client sends Content-Type: application/octet-stream even for pure JSON."""
    binary = mode == "binary"

    async def scenario(triton: Any) -> Any:
        return await triton.infer(
            "iris",
            _iris_inputs(binary),
            outputs=_outputs(binary),
            request_id="aio-7",
            request_compression_algorithm=compression,
        )

    result = _run(triton_url, scenario)
    _check_iris(result)
    assert result.get_response()["id"] == "aio-7"


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_triton_aio_infer_digits_tensor(
    triton_url: str, serving_registry: Registry, mode: str, compression: str | None
) -> None:
    binary = mode == "binary"

    async def scenario(triton: Any) -> Any:
        return await triton.infer(
            "digits",
            _digits_inputs(binary),
            outputs=_outputs(binary),
            request_compression_algorithm=compression,
        )

    _check_digits(_run(triton_url, scenario), serving_registry)
