"""``archsim train WORKLOAD``: train a zoo workload (or take its untrained shape) and export NIR + stats."""
from __future__ import annotations

from pathlib import Path

from archsim.guard.outputs import check_output_file
from archsim.units import count_of
from workloads import zoo
from workloads.export import stats_path


def main(args) -> int:
    """Train a zoo workload (or export its untrained shape) to NET.nir and NET.stats.json."""
    out = Path(args.out or f"{args.workload}.nir")
    check_output_file(out, "--out")
    network, stats = zoo.train(args.workload, epochs=args.epochs, seed=args.seed, out=out, log=print)
    layers = ", ".join(f"{layer.name} {'x'.join(map(str, layer.shape))}" for layer in network.layers)
    print(f"{args.workload}: {count_of(len(network.layers), 'layer')} ({layers}), T={stats['steps']}, seed {args.seed}")
    if stats.get("trained"):
        acc = stats["accuracy"]
        print(f"test accuracy: float {100 * acc['float']:.2f}%, quantized int{stats['weight_bits']} "
              f"{100 * acc['quantized']:.2f}% ({stats['test_samples']} samples)")
        off = stats.get("accuracy_without_local_rule")
        if off:
            print(f"with the local rule switched off: float {100 * off['float']:.2f}%, quantized "
                  f"int{stats['weight_bits']} {100 * off['quantized']:.2f}%")
        print(f"training time: {stats['train_time_s']:.1f} s ({stats['epochs']} epochs)")
    else:
        print("untrained shape with synthetic spike statistics (--epochs 0)")
    print(f"wrote {out} and {stats_path(out)}")
    return 0
