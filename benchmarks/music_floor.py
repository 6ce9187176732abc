"""How close is close: the histogram distances between real pieces of the music corpus and its test split.

The music evaluation (`rnnkit/music/evaluate.py`) scores generated pieces by the KL divergence and
earth mover's distance between their pitch-class and interval histograms and the test split's. This
script gives the same distances for real music: the validation split against the test split, and
random training subsets of the test split's size, so that a generated set's numbers can be read
against what held-out pieces by the same composers score. Data only; no model.

    python benchmarks/music_floor.py folk        # or chorales; split as the recipe splits it
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rnnkit import config as cfgmod
from rnnkit.music import chorale as chorale_mod
from rnnkit.music import evaluate as ev
from rnnkit.music import folk
from rnnkit.tasks.music import MusicDataConfig, prepare

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", choices=["folk", "chorales"])
    ap.add_argument("--subsets", type=int, default=20, help="random training subsets (default: 20)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    path, recipe = cfgmod.load_recipe(str(RECIPES / f"music-{args.corpus}.toml"))
    data = cfgmod.merge(MusicDataConfig, recipe.get("data", {}), {}, str(path), recipe_dir=path.parent)
    kind, splits, _ = prepare(data, lambda *a: None)
    if kind == "folk":
        stats, decode = ev.melody_stats, folk.decode
    else:
        stats, decode = ev.chorale_stats, chorale_mod.decode
    hist = lambda pieces: stats([decode(p.tokens, *p.condition) for p in pieces])  # noqa: E731
    test = hist(splits["test"])

    def row(h: tuple[np.ndarray, np.ndarray]) -> list[float]:
        pc, iv = ev.distances(test[0], h[0]), ev.distances(test[1], h[1])
        return [pc["kl"], pc["emd"], iv["kl"], iv["emd"]]

    n = len(splits["test"])
    print(f"{kind}: {len(splits['train'])} / {len(splits['valid'])} / {n} train / valid / test pieces")
    print("| against the test split | pitch-class KL | pitch-class EMD | interval KL | interval EMD |")
    print("|---|---|---|---|---|")
    v = row(hist(splits["valid"]))
    print(f"| the validation split | {v[0]:.4f} | {v[1]:.3f} | {v[2]:.4f} | {v[3]:.3f} |")
    rng = np.random.default_rng(args.seed)
    train = splits["train"]
    rows = np.array([row(hist([train[i] for i in rng.choice(len(train), size=n, replace=False)]))
                     for _ in range(args.subsets)])
    med, lo, hi = np.median(rows, 0), rows.min(0), rows.max(0)
    print(f"| {args.subsets} random training subsets of {n} pieces: median (min-max) | "
          + " | ".join(f"{m:.4f} ({a:.4f}-{b:.4f})" if k % 2 == 0 else f"{m:.3f} ({a:.3f}-{b:.3f})"
                       for k, (m, a, b) in enumerate(zip(med, lo, hi))) + " |")


if __name__ == "__main__":
    main()
