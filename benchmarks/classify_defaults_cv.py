"""How the classification defaults were chosen: variants compared on the TRAINING files only.

    python benchmarks/classify_defaults_cv.py --sets GunPoint BasicMotions --variants default frontend=none

Every training file is split (stratified, seeded) into a fit part and a held-out part
(``--holdout``, 30%); each variant trains on the fit part with rnnkit's defaults plus its
changes and is scored on the held-out part. Test files are never read, so nothing here can be
chosen after looking at a test score.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from classify_broad import find_sets, package_dirs  # noqa: E402


def split_file(path: Path, holdout: float, seed: int, out: Path) -> tuple[Path, Path]:
    """Write the fit and held-out parts of ``.ts`` file ``path`` (header copied) into ``out``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    head, cases = lines[: at + 1], [line for line in lines[at + 1 :] if line.strip()]
    by_class: dict[str, list[str]] = {}
    for line in cases:
        by_class.setdefault(line.rsplit(":", 1)[-1].strip(), []).append(line)
    rng = random.Random(seed)
    fit, held = [], []
    for label in sorted(by_class):
        rows = by_class[label][:]
        rng.shuffle(rows)
        n = max(1, round(holdout * len(rows))) if len(rows) > 1 else 0
        held += rows[:n]
        fit += rows[n:]
    a, b = out / "fit.ts", out / "held.ts"
    a.write_text("\n".join(head + fit) + "\n", encoding="utf-8")
    b.write_text("\n".join(head + held) + "\n", encoding="utf-8")
    return a, b


def parse_variant(text: str) -> dict[str, dict[str, object]]:
    """``default`` or ``key=value[,key=value]`` over the model, data and train options."""
    from rnnkit.tasks import classify

    if text == "default":
        return {}
    out: dict[str, dict[str, object]] = {}
    for part in text.split(","):
        key, value = part.split("=", 1)
        for section, cls in classify.sections().items():
            fields = {f.name: f for f in dataclasses.fields(cls)}
            if key in fields:
                kind = type(fields[key].default)
                out.setdefault(section, {})[key] = kind(value) if kind is not bool else value == "true"
                break
        else:
            raise SystemExit(f"unknown option {key}")
    return out


def run(fit: Path, held: Path, changes: dict[str, dict[str, object]], seed: int) -> dict:
    from rnnkit.tasks import classify

    configs = {name: cls() for name, cls in classify.sections().items()}
    configs["data"] = dataclasses.replace(configs["data"], data=str(fit), test=str(held), format="ts")
    configs["train"] = dataclasses.replace(configs["train"], threads=1, progress=False, seed=seed)
    for section, values in changes.items():
        configs[section] = dataclasses.replace(configs[section], **values)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        t0 = time.perf_counter()
        summary = classify.train(Path(tmp) / "run", configs)
    return {"acc": summary["test"]["acc"], "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", required=True)
    p.add_argument("--variants", nargs="+", default=["default"])
    p.add_argument("--holdout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data" / "ucr-uea"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    sets = find_sets([*package_dirs(), Path(args.shared)])
    for name in args.sets:
        train = sets[name][0]
        with tempfile.TemporaryDirectory() as tmp:
            fit, held = split_file(train, args.holdout, args.seed, Path(tmp))
            for variant in args.variants:
                result = run(fit, held, parse_variant(variant), args.seed)
                print(json.dumps({"set": name, "variant": variant, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
