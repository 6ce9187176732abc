"""Cell variants, regularisers and the compiled time loop against torch.nn and the autograd loop.

    python benchmarks/variants.py [--cases "16,500,64,64;32,100,256,256"] [--repeats 7] [--no-autograd]

Same code as ``rnnkit bench --variants`` (rnnkit/bench_variants.py). Results: benchmarks/README.md.
"""

from rnnkit.cli import main

if __name__ == "__main__":
    import sys

    raise SystemExit(main(["bench", "--variants", *sys.argv[1:]]))
