#!/usr/bin/env python3
"""Keeps the study's expensive state in the repository: the dense models of the model store and the
checkpoints of trainings still running (docs/results.md, "Running the study").

A dense width-1.0 model takes 4 to 7 CPU hours to train; everything else in the study (pruning,
fine-tuning, W_eff, evaluation) is remade from it in minutes. The study runs in pieces on machines
that may not keep their disk between pieces, so `save` copies the model store's
train-*.safetensors files (finished models and .ckpt checkpoints) into data/study-models/ (split
into parts under GitHub's 50 MB warning, with a manifest of sizes and SHA-256 sums), and `restore`
puts them back into a fresh cache before `sparsexbar sweep run` (scripts/study.sh does it).

  python3 scripts/study_state.py save    [--cache DIR] [--state DIR] [--part-mib N]
  python3 scripts/study_state.py restore [--cache DIR] [--state DIR]

--cache: the sweep cache (default: $SPARSEXBAR_CACHE, else $XDG_CACHE_HOME/sparsexbar, else
~/.cache/sparsexbar, as sparsexbar's); its models are in <cache>/sweep-models/. --state: default
data/study-models of this checkout. A checkpoint is dropped from the state once its model is
finished. Files already in the cache are left alone by restore; a part that is missing or does
not match the manifest stops restore with a one-line error and exit status 1.
"""
import argparse
import hashlib
import json
import os
import pathlib
import sys

MANIFEST = "MANIFEST.json"
CKPT = ".ckpt.safetensors"


def default_cache():
    for var, sub in (("SPARSEXBAR_CACHE", ""), ("XDG_CACHE_HOME", "sparsexbar")):
        if os.environ.get(var):
            return pathlib.Path(os.environ[var]) / sub
    return pathlib.Path.home() / ".cache" / "sparsexbar"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def final_of(name):
    """The finished model a checkpoint belongs to (None for a finished model)."""
    return name[: -len(CKPT)] + ".safetensors" if name.endswith(CKPT) else None


def load_manifest(state):
    path = state / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"study_state: {path}: not a manifest ({e})")


def save(cache, state, part_bytes):
    models = cache / "sweep-models"
    names = sorted(p.name for p in models.glob("train-*.safetensors")) if models.is_dir() else []
    present = set(names)
    state.mkdir(parents=True, exist_ok=True)
    files = load_manifest(state)
    # A finished model replaces its checkpoint.
    for name in list(files):
        if final_of(name) and (final_of(name) in present or final_of(name) in files):
            del files[name]
    for name in names:
        if final_of(name) and final_of(name) in present:
            continue
        src = models / name
        digest, size = sha256(src), src.stat().st_size
        if files.get(name, {}).get("sha256") == digest:
            continue
        parts = []
        with open(src, "rb") as f:
            for i, chunk in enumerate(iter(lambda: f.read(part_bytes), b"")):
                part = f"{name}.part{i:03d}"
                write_atomic(state / part, chunk)
                parts.append(part)
        files[name] = {"size": size, "sha256": digest, "parts": parts}
        print(f"saved {name} ({size / 2**20:.1f} MiB, {len(parts)} parts)")
    keep = {MANIFEST} | {p for entry in files.values() for p in entry["parts"]}
    manifest = json.dumps({"files": files}, indent=1, sort_keys=True) + "\n"
    write_atomic(state / MANIFEST, manifest.encode())
    for stale in state.iterdir():
        if stale.name not in keep:
            stale.unlink()
            print(f"removed {stale.name}")


def restore(cache, state):
    files = load_manifest(state)
    models = cache / "sweep-models"
    models.mkdir(parents=True, exist_ok=True)
    for name, entry in sorted(files.items()):
        dest = models / name
        if dest.exists() or (final_of(name) and (models / final_of(name)).exists()):
            continue
        tmp = dest.with_name(name + ".restoring")
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            for part in entry["parts"]:
                try:
                    data = (state / part).read_bytes()
                except OSError as e:
                    tmp.unlink()
                    raise SystemExit(f"study_state: {state / part}: {e.strerror}")
                h.update(data)
                out.write(data)
        if tmp.stat().st_size != entry["size"] or h.hexdigest() != entry["sha256"]:
            tmp.unlink()
            raise SystemExit(f"study_state: {state / MANIFEST}: {name} does not match its size and sha256")
        os.replace(tmp, dest)
        print(f"restored {name} ({entry['size'] / 2**20:.1f} MiB)")


def main():
    here = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["save", "restore"])
    ap.add_argument("--cache", type=pathlib.Path, default=default_cache())
    ap.add_argument("--state", type=pathlib.Path, default=here / "data" / "study-models")
    ap.add_argument("--part-mib", type=float, default=45.0)
    a = ap.parse_args()
    if a.part_mib <= 0:
        raise SystemExit("study_state: --part-mib must be positive")
    if a.action == "save":
        save(a.cache, a.state, int(a.part_mib * 2**20))
    else:
        restore(a.cache, a.state)


if __name__ == "__main__":
    sys.exit(main())
