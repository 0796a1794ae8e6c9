"""PyTorch helpers for sparsexbar (this module needs torch; ``import sparsexbar`` does not).

>>> import torch, sparsexbar, sparsexbar.torch
>>> net = torch.nn.Sequential(torch.nn.Linear(20, 10))
>>> weff = sparsexbar.torch.crossbar_state_dict(net, sparsexbar.CrossbarConfig(), tile=16)
>>> net.load_state_dict(weff)  # the network as the crossbars compute it
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import numpy as np
import torch

from . import ConfigLike, PathLike, _effective_raw, _tensor_value

__all__ = ["crossbar_state_dict", "conv_groups"]


def conv_groups(module: torch.nn.Module) -> dict[str, int]:
    """``{"<name>.weight": groups}`` of every grouped convolution of ``module``."""
    return {f"{name}.weight" if name else "weight": m.groups
            for name, m in module.named_modules()
            if isinstance(m, torch.nn.modules.conv._ConvNd) and m.groups > 1}


def _tensor(entry: tuple[str, list[int], np.ndarray], like: torch.Tensor) -> torch.Tensor:
    dtype, shape, data = entry
    if dtype == "BF16":
        t = torch.from_numpy(data.view(np.int16).reshape(shape).copy()).view(torch.bfloat16)
    elif data.dtype == np.uint8 and like.dtype != torch.uint8:  # a dtype NumPy does not hold: the bytes back
        t = torch.frombuffer(bytearray(data.tobytes()), dtype=like.dtype).reshape(shape)
    else:
        t = torch.from_numpy(_tensor_value(entry).copy())
    return t.to(like.device)


def crossbar_state_dict(
    module: torch.nn.Module,
    config: ConfigLike = None,
    *,
    tile: Union[int, str, tuple[int, int], None] = None,
    calibration: Union[str, Sequence[str]] = "none",
    include: Union[str, None] = None,
    exclude: Union[str, None] = None,
    groups: Union[Mapping[str, int], None] = None,
    layout: Union[PathLike, None] = None,
    backend: str = "auto",
    log: Union[Callable[[str], None], None] = None,
    with_report: bool = False,
) -> Any:
    """The W_eff state dict of any ``nn.Module`` (sparsexbar.effective_weights on its state dict).

    Every tensor keeps its name, shape, dtype (bfloat16 included) and device, so
    ``module.load_state_dict(result)`` gives the module as the crossbars compute
    it. Grouped convolutions are found on the module (``groups`` adds to or
    overrides them). Other arguments as for :func:`sparsexbar.effective_weights`.

    Returns:
        The state dict (a list of them when ``calibration`` is a list), and the
        report too, as ``(state_dict, report)``, when ``with_report``.
    """
    source = {name: t.detach().cpu() for name, t in module.state_dict().items()}
    found = conv_groups(module)
    found.update(groups or {})
    files, report = _effective_raw(source, config, tile=tile, calibration=calibration, include=include,
                                   exclude=exclude, groups=found, layout=layout, metadata=None,
                                   backend=backend, log=log)
    originals = module.state_dict()
    dicts = [{name: _tensor(entry, originals[name]) for name, entry in f.items()} for f in files]
    result = dicts[0] if isinstance(calibration, str) else dicts
    return (result, report) if with_report else result
