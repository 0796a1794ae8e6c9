#!/usr/bin/python3
"""`sparsexbar weff` on a PyTorch model that is not a VGG (a hand-run example).

Builds a small ResNet-style network (basic residual blocks, a 1x1 shortcut
convolution, a depthwise convolution with groups, batch norm, a linear head) in
plain torch.nn, trains it briefly on CIFAR-10 images, exports its state dict as
safetensors, runs `sparsexbar weff` twice (the `ideal` preset, then the chosen
crossbar), loads each result with model.load_state_dict and prints the software,
ideal-crossbar and non-ideal-crossbar accuracy on held-out test images.

Needs Debian's python3-torch and python3-pil (run with /usr/bin/python3, not a
virtual environment) and the CIFAR-10 JPEG archive of ../shared/data. The
safetensors files are read and written by the few lines below (Debian has no
safetensors package). Example:

  /usr/bin/python3 scripts/weff_pytorch_example.py --tile 64 --set r_wire_row=2.5 --set r_wire_col=2.5
"""
import argparse, io, json, os, struct, subprocess, sys, tarfile, tempfile, time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

# --- safetensors: 8-byte header length, JSON header, raw little-endian data ---
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64"}


def save_file(tensors, path):
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def load_file(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header, body, out = json.loads(data[8:8 + n]), data[8 + n:], {}
    by_name = {v: k for k, v in DTYPES.items()}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = by_name[info["dtype"]]
        buf = bytearray(body[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


# --- the model ---------------------------------------------------------------
class Block(nn.Module):
    """Basic residual block; a 1x1 convolution on the shortcut when the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = Block(width, width, 1)
        self.layer2 = Block(width, 2 * width, 2)
        self.layer3 = Block(2 * width, 4 * width, 2)
        # Depthwise-separable stage: a grouped convolution (groups = channels), then a 1x1 one.
        self.dw = nn.Conv2d(4 * width, 4 * width, 3, 1, 1, groups=4 * width, bias=False)
        self.dw_bn = nn.BatchNorm2d(4 * width)
        self.pw = nn.Conv2d(4 * width, 4 * width, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(4 * width)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        x = F.relu(self.pw_bn(self.pw(F.relu(self.dw_bn(self.dw(x))))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def groups(self):
        """TENSOR=G for every grouped convolution: a state dict does not record groups."""
        return [f"{name}.weight={m.groups}" for name, m in self.named_modules()
                if isinstance(m, nn.Conv2d) and m.groups > 1]


# --- data --------------------------------------------------------------------
def read_cifar10(archive, per_class_train, per_class_test):
    """The first images of each class of the CIFAR-10 JPEG archive, normalised tensors."""
    want = {"train": per_class_train, "test": per_class_test}
    images = {split: {c: [] for c in range(10)} for split in want}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 4 or parts[1] not in want or parts[2] not in CLASSES:
                continue
            split, label = parts[1], CLASSES.index(parts[2])
            if len(images[split][label]) >= want[split]:
                continue
            img = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            images[split][label].append(torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    out = {}
    for split in want:
        xs, ys = [], []
        for label, imgs in images[split].items():
            xs += imgs
            ys += [label] * len(imgs)
        x = torch.stack(xs).view(-1, 32, 32, 3).permute(0, 3, 1, 2).float() / 255.0
        out[split] = ((x - mean) / std, torch.tensor(ys))
    return out


def train(model, x, y, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = epochs * ((len(x) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        order, loss_sum = torch.randperm(len(x), generator=g), 0.0
        for k in range(0, len(x), 64):
            idx = order[k:k + 64]
            xb = x[idx]
            if torch.rand(1, generator=g).item() < 0.5:
                xb = xb.flip(3)  # horizontal flip
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{epochs}: loss {loss_sum / len(x):.3f}", flush=True)


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    correct = sum((model(x[k:k + 256]).argmax(1) == y[k:k + 256]).sum().item() for k in range(0, len(x), 256))
    return correct / len(x)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sparsexbar", default=os.path.join(root, "build", "sparsexbar"))
    p.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "cifar10-jpeg.tar.gz"))
    p.add_argument("--train-per-class", type=int, default=500, help="training images per class")
    p.add_argument("--test-per-class", type=int, default=50, help="test images per class")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"], help="dtype of the exported weights")
    p.add_argument("--crossbar", help="crossbar configuration JSON (default: the 'default' preset)")
    p.add_argument("--tile", default="64")
    p.add_argument("--set", action="append", default=[], help="key=value for sparsexbar weff (repeatable)")
    p.add_argument("--workdir", help="where the safetensors and JSON files go (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if not os.path.exists(a.data):
        sys.exit(f"no CIFAR-10 archive at {a.data} (see ../shared/data/README.md)")
    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    work = a.workdir or tempfile.mkdtemp(prefix="weff_example_")
    os.makedirs(work, exist_ok=True)

    t0 = time.time()
    data = read_cifar10(a.data, a.train_per_class, a.test_per_class)
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    print(f"CIFAR-10: {len(x_train)} training and {len(x_test)} test images ({time.time() - t0:.1f} s)")
    model = SmallResNet(a.width)
    train(model, x_train, y_train, a.epochs, a.seed)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    weights = os.path.join(work, "model.safetensors")
    save_file(state, weights)
    exported = SmallResNet(a.width)
    exported.load_state_dict(load_file(weights))  # the software model as exported (rounded to --dtype)
    software = accuracy(exported, x_test, y_test)

    def crossbar_model(name, extra):
        out, report = os.path.join(work, f"model_weff_{name}.safetensors"), os.path.join(work, f"weff_{name}.json")
        cmd = [a.sparsexbar, "weff", "--weights", weights, "--tile", a.tile, "--out", out, "--json", report, "--quiet"]
        for g in model.groups():
            cmd += ["--groups", g]
        cmd += extra
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # its table: the JSON below
        m = SmallResNet(a.width)
        m.load_state_dict(load_file(out))
        with open(report) as f:
            return m, json.load(f)

    ideal_model, _ = crossbar_model("ideal", ["--set", "preset=ideal"])  # zero parasitic resistances
    extra = (["--crossbar", a.crossbar] if a.crossbar else []) + [x for s in a.set for x in ("--set", s)]
    nonideal_model, report = crossbar_model("nonideal", extra)
    ideal, nonideal = accuracy(ideal_model, x_test, y_test), accuracy(nonideal_model, x_test, y_test)

    print(f"\n{'tensor':<24} {'shape':>14} {'groups':>6} {'crossbars':>9} {'scale':>8} {'NF mean':>8} {'rel.err':>8}")
    for l in report["layers"]:
        print(f"{l['tensor']:<24} {'x'.join(map(str, l['shape'])):>14} {l['groups']:>6} {l['crossbars']:>9} "
              f"{l['scale']:>8.4f} {l['nf']['mean']:>8.4f} {l['relative_error']:>8.4f}")
    print(f"\n{len(x_test)} CIFAR-10 test images, weights {a.dtype}, {report['crossbars']} crossbars of "
          f"{report['tile_rows']} x {report['tile_cols']}")
    print(f"software accuracy           {100 * software:6.2f} %")
    print(f"ideal crossbar accuracy     {100 * ideal:6.2f} %")
    print(f"non-ideal crossbar accuracy {100 * nonideal:6.2f} %")
    print(f"files in {work}")


if __name__ == "__main__":
    main()
