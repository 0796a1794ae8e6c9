# Type stub of sparsexbar._core, the extension under the package sparsexbar
# (apps/python/*.cpp). Use the package's functions: they take array-likes and
# return NumPy arrays; these take what the package hands them.
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

class Error(ValueError):
    """An error of the engine: its one-line message, naming the key, field or file."""

# (safetensors dtype name, shape, contiguous array of the tensor's bytes or values)
TensorEntry = tuple[str, list[int], npt.NDArray[Any]]

def version() -> str: ...
def crossbar_config(keys: dict[str, Any]) -> dict[str, Any]: ...
def read_crossbar_config(path: str) -> dict[str, Any]: ...
def crossbar_presets() -> list[str]: ...
def resolve_backend(name: str) -> str: ...
def solve_tiles(
    g: npt.NDArray[np.float64],
    config: dict[str, Any],
    voltages: npt.NDArray[np.float64] | None = None,
    backend: str = "auto",
    transfer: bool = True,
) -> npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def effective_weights(
    tensors: dict[str, TensorEntry],
    metadata: dict[str, str],
    config: dict[str, Any],
    calibrations: list[str],
    include: str,
    exclude: str,
    groups: dict[str, int],
    layout: str | None,
    tile: tuple[int, int] | None,
    backend: str,
    log: Callable[[str], None] | None,
    source: str,
) -> tuple[list[dict[str, TensorEntry]], dict[str, Any]]: ...
def evaluate(
    model: str,
    weights: str,
    data: str,
    config: dict[str, Any],
    calibrations: list[str],
    bn_recalibrate: int,
    layout: str | None,
    device: str,
    backend: str,
    cache_dir: str | None,
    log: Callable[[str], None] | None,
) -> dict[str, Any]: ...
def read_safetensors(path: str) -> tuple[dict[str, TensorEntry], dict[str, str]]: ...
def write_safetensors(path: str, tensors: dict[str, TensorEntry], metadata: dict[str, str]) -> None: ...
