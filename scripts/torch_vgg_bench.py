#!/usr/bin/env python3
"""PyTorch eager baseline for `sparsexbar train`: images/s of one training epoch
of the CIFAR VGG (kuangliu layout, batch-norm, width multiplier) with SGD
momentum 0.9, weight decay 5e-4, on random 32x32 inputs resident on the device.
With --eval, the baseline for `sparsexbar bench infer`: images/s of eval-mode
forwards (torch.inference_mode) of one batch, after --warmup (2) untimed forwards.
Prints one JSON line. Usage: torch_vgg_bench.py [--device cuda|cpu] [--images N] [--eval]."""
import argparse, json, time
import torch
import torch.nn as nn

CFG = {"vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
       "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]}

def vgg(name, width, classes):
    layers, c_in = [], 3
    for v in CFG[name]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            c = max(1, round(v * width))
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
    layers.append(nn.AvgPool2d(1, 1))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in, classes))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="vgg11")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--images", type=int, default=50000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--eval", action="store_true", help="time eval-mode inference instead of training")
    p.add_argument("--warmup", type=int, default=2, help="untimed forwards first (--eval)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    model = vgg(a.model, a.width, 10).to(dev)
    if a.eval:
        return inference(model, dev, a)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    for _ in range(5):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    steps = max(1, a.images // a.batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    s = time.perf_counter() - t0
    print(json.dumps({"framework": "pytorch " + torch.__version__, "model": a.model, "width": a.width,
                      "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
                      "threads": torch.get_num_threads(), "batch": a.batch, "images": steps * a.batch,
                      "epoch_seconds": s, "images_per_second": steps * a.batch / s}))

def inference(model, dev, a):
    model.eval()
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    with torch.inference_mode():
        for _ in range(a.warmup):
            model(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        steps = max(1, a.images // a.batch)
        t0 = time.perf_counter()
        for _ in range(steps):
            logits = model(x)
        logits[0, 0].item()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        s = time.perf_counter() - t0
    print(json.dumps({"framework": "pytorch " + torch.__version__, "mode": "eval", "model": a.model,
                      "width": a.width, "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
                      "threads": torch.get_num_threads(), "batch": a.batch, "images": steps * a.batch,
                      "seconds": s, "images_per_second": steps * a.batch / s}))

if __name__ == "__main__":
    main()
