"""A torchvision ResNet-18 on crossbars: software against crossbar outputs on one batch.

Nothing is trained or downloaded: the example builds a ResNet-18 with random
weights (seed 0), saves them itself and loads them back, maps every
convolution and linear weight onto differential crossbar tiles
(sparsexbar.torch.crossbar_state_dict: every tile solved exactly), and prints
how far the crossbar network's outputs are from the software network's.

Usage: python3 resnet_on_crossbars.py [--tile 64] [--preset default] [--calibration none] [--batch 8]
Needs torch and torchvision besides sparsexbar (docs/python.md).
"""

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
import torchvision

import sparsexbar
import sparsexbar.torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=64, help="tile size N (N x N crossbars)")
    parser.add_argument("--preset", default="default", choices=sparsexbar.CrossbarConfig.presets())
    parser.add_argument("--calibration", default="none", choices=["none", "column", "layer"],
                        help="read-out calibration of W_eff")
    parser.add_argument("--batch", type=int, default=8, help="images in the batch")
    args = parser.parse_args()

    torch.manual_seed(0)
    software = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    with tempfile.TemporaryDirectory() as tmp:  # the example's own weights, saved and loaded back
        path = Path(tmp) / "resnet18.pt"
        torch.save(software.state_dict(), path)
        software.load_state_dict(torch.load(path))

    config = sparsexbar.CrossbarConfig(args.preset)
    t0 = time.perf_counter()
    weff, report = sparsexbar.torch.crossbar_state_dict(software, config, tile=args.tile,
                                                           calibration=args.calibration, with_report=True)
    seconds = time.perf_counter() - t0
    crossbar = copy.deepcopy(software)
    crossbar.load_state_dict(weff)

    x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y_sw, y_xb = software(x), crossbar(x)
    diff = (y_xb - y_sw).abs()
    rel = (y_xb - y_sw).norm() / y_sw.norm()
    agree = (y_xb.argmax(1) == y_sw.argmax(1)).float().mean()
    print(f"ResNet-18 on {report['crossbars']} crossbars of {args.tile} x {args.tile} ({args.preset}, calibration {args.calibration}), "
          f"{len(report['layers'])} weights mapped in {seconds:.1f} s on {report['backend']}")
    print(f"mean NF {report['nf']['mean']:.4f}, max NF {report['nf']['max']:.4f}")
    print(f"outputs on {args.batch} images: max |crossbar - software| {diff.max():.4g}, "
          f"relative difference {rel:.4g}, same top-1 class for {agree:.0%}")


if __name__ == "__main__":
    main()
