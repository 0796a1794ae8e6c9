"""SparseXbar from Python: exact analog-crossbar simulation of DNN layers.

The engine (C++ and CUDA) behind ``sparsexbar`` is the one the command-line tool
runs, through the same front doors: the tile solver (``solve_tiles``), the
effective weights of any state dict (``effective_weights``, as ``sparsexbar
weff``) and the crossbar evaluation of a model file (``evaluate``, as
``sparsexbar evaluate --json``). Inputs are NumPy arrays or anything with
``__array__`` or DLPack (CPU torch tensors); outputs are NumPy arrays.

Errors of the engine are raised as :class:`Error` (a ``ValueError``) with the
engine's one-line message; wrong dtypes raise ``TypeError``. Long calls release
the GIL, and Ctrl-C stops them with ``KeyboardInterrupt``. See docs/python.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

import numpy as np

from . import _core
from ._core import Error

__all__ = [
    "CrossbarConfig",
    "Error",
    "effective_weights",
    "evaluate",
    "load_state_dict",
    "resolve_backend",
    "save_state_dict",
    "solve_tiles",
    "version",
]

PathLike = Union[str, "os.PathLike[str]"]
ConfigLike = Union["CrossbarConfig", Mapping[str, Any], None]

# safetensors dtype names <-> NumPy dtypes (BF16 has no NumPy dtype: its bits
# travel as uint16, and sparsexbar.torch turns them back into bfloat16).
_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_, "BF16": np.uint16,
}
_NAMES = {np.dtype(t): name for name, t in _DTYPES.items() if name != "BF16"}


def version() -> str:
    """The engine's version line, e.g. ``"0.1.0 (abc1234)"``."""
    return _core.version()


def resolve_backend(backend: str = "auto") -> str:
    """The tile solver that ``backend`` picks here: ``"cpu"``, ``"cuda"`` or ``"reference"``."""
    return _core.resolve_backend(backend)


class CrossbarConfig:
    """A crossbar configuration: circuit, devices, mapping and tile size.

    It takes the keys of the JSON configuration (docs/model.md, "Crossbar
    configuration"), starting from a preset, with the same checks: an unknown
    key or a bad value raises :class:`Error` (a ``ValueError``) naming the key.

    >>> CrossbarConfig("wire-28", tile_rows=32, tile_cols=32).r_wire_row
    28.0
    """

    __slots__ = ("_keys",)

    def __init__(self, preset: str = "default", **keys: Any) -> None:
        self._keys: dict[str, Any] = _core.crossbar_config({"preset": preset, **keys})

    @classmethod
    def from_json(cls, path: PathLike) -> "CrossbarConfig":
        """The configuration of a JSON file (as ``--crossbar FILE`` reads it)."""
        config = cls.__new__(cls)
        config._keys = _core.read_crossbar_config(os.fspath(path))
        return config

    @staticmethod
    def presets() -> list[str]:
        """The presets' names, in documentation order."""
        return list(_core.crossbar_presets())

    def to_dict(self) -> dict[str, Any]:
        """Every key of the configuration, as the JSON file and reports write it."""
        return dict(self._keys)

    def replace(self, **keys: Any) -> "CrossbarConfig":
        """A copy with ``keys`` changed (checked as in the constructor)."""
        merged = {k: v for k, v in self._keys.items() if k != "preset"}
        merged.update(keys)
        return CrossbarConfig(self._keys["preset"], **merged)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # e.g. _keys before __init__ (copy, pickle)
            raise AttributeError(key)
        try:
            return self._keys[key]
        except KeyError:
            raise AttributeError(f"CrossbarConfig has no key '{key}'") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CrossbarConfig) and self._keys == other._keys

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._keys.items())))

    def __repr__(self) -> str:
        keys = getattr(self, "_keys", {"preset": "?"})
        args = ", ".join(f"{k}={v!r}" for k, v in keys.items() if k != "preset")
        return f"CrossbarConfig({keys['preset']!r}, {args})"


def _config_keys(config: ConfigLike) -> dict[str, Any]:
    if config is None:
        return CrossbarConfig().to_dict()
    if isinstance(config, CrossbarConfig):
        return config.to_dict()
    if isinstance(config, Mapping):
        return dict(config)
    raise TypeError(f"config: expected a CrossbarConfig or a dict of its keys, not {type(config).__name__}")


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def _as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a NumPy array without a copy where it can be: an ndarray,
    a DLPack producer (torch tensors) or anything with ``__array__``."""
    if isinstance(value, np.ndarray):
        return value
    if _is_torch(value) and getattr(value, "requires_grad", False):
        value = value.detach()
    if hasattr(value, "__dlpack__"):
        try:
            return np.from_dlpack(value)
        except (BufferError, TypeError, RuntimeError):
            pass  # e.g. a GPU tensor: __array__ below says why
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name}: expected a NumPy array, an object with __array__ or DLPack, not {type(value).__name__}")


def solve_tiles(
    g: Any,
    config: ConfigLike = None,
    *,
    voltages: Any = None,
    backend: str = "auto",
    transfer: bool = True,
) -> Any:
    """Solves crossbar tiles exactly, through the engine's tile-solver front door.

    Args:
        g: conductances (S), float64, a batch ``[B, R, C]`` or one tile ``[R, C]``.
        config: the resistances ``r_source``, ``r_sink``, ``r_wire_row`` and
            ``r_wire_col`` come from it (default: the ``default`` preset).
        voltages: input voltages, ``[n, R]`` for every tile or ``[B, n, R]``.
        backend: ``"auto"`` (CUDA when usable, else CPU), ``"cpu"``, ``"cuda"``
            or ``"reference"``; a tile the solver refuses or fails is solved by
            the reference, with a ``RuntimeWarning`` saying so.
        transfer: return the transfer matrices.

    Returns:
        Without voltages, the transfer matrices ``T`` ``[B, C, R]`` (``I = T v``).
        With voltages, the output currents ``[B, n, C]``, or ``(currents, T)``
        when ``transfer`` is true. A single tile ``[R, C]`` drops the B axis.

    Raises:
        TypeError: a dtype other than float64 (never converted silently).
        ValueError: a bad shape; sparsexbar.Error (a ValueError) for what the
            engine refuses (a conductance that is not positive, a tile over
            1024 x 1024, a bad key), naming the tile as ``g[k]``.
    """
    array = _as_array(g, "g")
    single = array.ndim == 2
    if single:
        array = array[np.newaxis]
    v = None
    if voltages is not None:
        v = _as_array(voltages, "voltages")
        if single and v.ndim == 3:
            raise ValueError("voltages: [B, n, R] given for one tile [R, C]; give [n, R]")
    result = _core.solve_tiles(array, _config_keys(config), v, backend, transfer)
    if single:
        return tuple(r[0] for r in result) if isinstance(result, tuple) else result[0]
    return result


def _tensor_entry(name: str, value: Any) -> tuple[str, list[int], np.ndarray]:
    if _is_torch(value) and str(getattr(value, "dtype", "")) == "torch.bfloat16":
        import torch  # the value is a torch tensor, so torch is there

        bits = value.detach().cpu().contiguous().view(torch.int16).numpy().view(np.uint16)
        return "BF16", list(bits.shape), bits
    array = _as_array(value, f"state_dict['{name}']")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    dtype = next((n for d, n in _NAMES.items() if d == array.dtype), None)
    if dtype is None:
        raise TypeError(f"state_dict['{name}']: dtype {array.dtype} has no safetensors name "
                        f"(float64/32/16, int64/32/16/8, uint64/32/16/8, bool)")
    return dtype, list(array.shape), np.ascontiguousarray(array)


def _tensor_value(entry: tuple[str, list[int], np.ndarray]) -> np.ndarray:
    dtype, shape, data = entry
    numpy_dtype = _DTYPES.get(dtype)
    if numpy_dtype is None:  # a dtype NumPy does not hold (e.g. F8_E4M3): its bytes
        return data
    return data.view(numpy_dtype).reshape(shape)


def _entries(state_dict: Mapping[str, Any]) -> dict[str, tuple[str, list[int], np.ndarray]]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a mapping of names to tensors, not {type(state_dict).__name__}")
    return {str(name): _tensor_entry(str(name), value) for name, value in state_dict.items()}


def _tile_size(tile: Union[int, str, tuple[int, int], None]) -> Union[tuple[int, int], None]:
    if tile is None:
        return None
    if isinstance(tile, str):
        rows, _, cols = tile.partition("x")
        if not rows.isdigit() or (cols and not cols.isdigit()):
            raise ValueError(f"tile '{tile}': expected N or RxC (e.g. 64 or 32x64)")
        return int(rows), int(cols or rows)
    if isinstance(tile, (tuple, list)) and len(tile) == 2:
        return int(tile[0]), int(tile[1])
    if isinstance(tile, int) and not isinstance(tile, bool):
        return tile, tile
    raise TypeError(f"tile: expected N, 'RxC' or (R, C), not {tile!r}")


def effective_weights(
    state_dict: Mapping[str, Any],
    config: ConfigLike = None,
    *,
    tile: Union[int, str, tuple[int, int], None] = None,
    calibration: Union[str, Sequence[str]] = "none",
    include: Union[str, None] = None,
    exclude: Union[str, None] = None,
    groups: Union[Mapping[str, int], None] = None,
    layout: Union[PathLike, None] = None,
    metadata: Union[Mapping[str, str], None] = None,
    backend: str = "auto",
    log: Union[Callable[[str], None], None] = None,
) -> tuple[Any, dict[str, Any]]:
    """The effective weights of a state dict on crossbars: ``sparsexbar weff`` in memory.

    Every selected 2-D (linear) and 4-D (convolution) weight is mapped onto
    differential tiles, every tile solved, and the weight replaced by its
    W_eff in its own dtype; every other tensor comes back unchanged. Loading
    the result gives the model as the crossbars compute it.

    Args:
        state_dict: names to arrays (NumPy, ``__array__``, DLPack, torch tensors).
        config: the crossbar configuration (default: the ``default`` preset).
        tile: tile size ``N``, ``"RxC"`` or ``(R, C)``; default: the configuration's
            (a layout's when ``layout`` is given).
        calibration: the read-out calibration, ``"none"``, ``"column"`` or
            ``"layer"``; a list gives one state dict per calibration, in order,
            all from one set of solved tiles.
        include, exclude: regular expressions on tensor names (default: names
            ending in ``weight``; none).
        groups: convolution groups per tensor name, e.g. ``{"dw.weight": 32}``.
        layout: a packed tile layout file (``<pruned>.layout.json``) for the
            layers it names.
        metadata: the state dict's safetensors metadata (WCT mapping scales).
        backend: the tile solver, as for :func:`solve_tiles`.
        log: called with each progress line.

    Returns:
        ``(weights, report)``: ``weights`` maps the same names to NumPy arrays of
        the same shapes and dtypes (a list of such dicts when ``calibration`` is
        a list); ``report`` is the dict of ``weff --json``: per layer
        ``crossbars``, ``nf``, ``gains``, ``scale``, ``relative_error``, ...
    """
    files, report = _effective_raw(state_dict, config, tile=tile, calibration=calibration, include=include,
                                   exclude=exclude, groups=groups, layout=layout, metadata=metadata,
                                   backend=backend, log=log)
    dicts = [{name: _tensor_value(entry) for name, entry in f.items()} for f in files]
    return (dicts[0] if isinstance(calibration, str) else dicts), report


def _effective_raw(state_dict: Mapping[str, Any], config: ConfigLike, *, tile: Any, calibration: Any,
                   include: Any, exclude: Any, groups: Any, layout: Any, metadata: Any, backend: str,
                   log: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """effective_weights with its tensors as (dtype, shape, bytes) entries (for sparsexbar.torch)."""
    calibrations = [calibration] if isinstance(calibration, str) else list(calibration)
    if not calibrations:
        raise ValueError("calibration: give at least one of none, column, layer")
    return _core.effective_weights(
        _entries(state_dict),
        dict(metadata or {}),
        _config_keys(config),
        calibrations,
        "weight$" if include is None else include,
        exclude or "",
        dict(groups or {}),
        None if layout is None else os.fspath(layout),
        _tile_size(tile),
        backend,
        log,
        "state_dict",
    )


def evaluate(
    model: str,
    weights: PathLike,
    data: str,
    config: ConfigLike = None,
    *,
    calibrations: Iterable[str] = ("none",),
    bn_recalibrate: int = 0,
    layout: Union[PathLike, None] = None,
    device: str = "cpu",
    backend: str = "auto",
    cache_dir: Union[PathLike, None] = None,
    log: Union[Callable[[str], None], None] = None,
) -> dict[str, Any]:
    """Accuracy of a model file on ideal and non-ideal crossbars: ``sparsexbar evaluate``.

    Args:
        model: ``"vgg11"`` or ``"vgg16"`` (width and classes come from the file).
        weights: the model's safetensors file.
        data: ``"synthetic[:N]"``, ``"cifar10:DIR"``, ``"cifar100:DIR"``,
            ``"folder:DIR"``, ... as ``--data``.
        config: the crossbar configuration (tile size included).
        calibrations: read-out calibrations reported side by side.
        bn_recalibrate: re-estimate batch-norm statistics over this many
            training images for each calibration (0: off).
        layout: the packed tile layout of a pruned model (fixes the tile size).
        device: the network engine, ``"cpu"``, ``"cuda"`` or ``"auto"``.
        backend: the tile solver.
        cache_dir: a W_eff cache folder (default: none).
        log: called with each progress line.

    Returns:
        The crossbar report, the dict that ``evaluate --json`` writes.
    """
    return _core.evaluate(
        model,
        os.fspath(weights),
        data,
        _config_keys(config),
        list(calibrations),
        int(bn_recalibrate),
        None if layout is None else os.fspath(layout),
        device,
        backend,
        None if cache_dir is None else os.fspath(cache_dir),
        log,
    )


def load_state_dict(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; BF16 tensors as uint16 bits."""
    tensors, metadata = _core.read_safetensors(os.fspath(path))
    return {name: _tensor_value(entry) for name, entry in tensors.items()}, dict(metadata)


def save_state_dict(path: PathLike, state_dict: Mapping[str, Any],
                    metadata: Union[Mapping[str, str], None] = None) -> None:
    """Writes a state dict as a safetensors file, atomically."""
    _core.write_safetensors(os.fspath(path), _entries(state_dict), dict(metadata or {}))
