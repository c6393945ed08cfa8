"""The original project's claims (its README), measured on original/: the
run of `python3 main.py --seeds 5 --net all`, 50 epochs at lr 1e-3, every
network from every seed (docs/study.md)."""
import os

import plot
from lab import report
from lab import results
from studies.claims import Claim, Measured, change_of

HEADER = ("the original project says", "measured", "verdict")
DIRECTORY = "original"
# How near the original's figure an accuracy may be and still be "about" it.
ABOUT = 0.005
# A network reduces the drift of the second ReLU's input if its input widens
# by at most this part of the plain network's widening.
REDUCED = 0.5


def selection(root):
    """plot.select of root's original/: its runs at lr 1e-3, weight scale 1."""
    return plot.select(os.path.join(root, DIRECTORY))


def about_the_target(root):
    """Claim 1: every run's test accuracy, against the original's 0.94."""
    rows = [row for row in selection(root).budget if row["status"] == "finished"]
    accuracies = [row["test_accuracy"] for row in rows]
    means = {network: sum(values.values()) / len(values)
             for (network, _, _), values in report.accuracies(rows).items()}
    low, high = min(accuracies), max(accuracies)
    lowest, highest = min(means, key=means.get), max(means, key=means.get)
    text = (f"every run between {low:.4f} and {high:.4f}; means {means[lowest]:.4f} "
            f"(`{lowest}`) to {means[highest]:.4f} (`{highest}`)")
    target = results.TARGET_ACCURACY
    if low > target:
        verdict = f"holds: every run is above {target}"
    elif low >= target - ABOUT:
        verdict = f"holds: every run is {target - ABOUT:.3f} or more"
    elif high >= target - ABOUT:
        verdict = f"holds in part: some runs are below {target - ABOUT:.3f}"
    else:
        verdict = f"does not hold: every run is below {target - ABOUT:.3f}"
    return Measured(text, verdict, low, None)


def paired(first, second):
    """A claim that network first is more accurate than network second: the
    noise rule's comparison, seed by seed (report.seed_differences)."""
    def measure(root):
        # original/ has one setting: {network: {seed: test accuracy}}
        accuracy = {network: seeds for (network, _, _), seeds in
                    report.accuracies(selection(root).budget).items()}
        compared = report.seed_differences(accuracy.get(first, {}), accuracy.get(second, {}))
        if compared is None:
            raise results.ResultsError(f"{root}/{DIRECTORY}/ has fewer than 2 seeds of both "
                                       f"{first} and {second}")
        differences, mean, spread, higher, counts = compared
        if counts:
            verdict = (f"{'holds' if mean > 0 else 'does not hold'}: "
                       + report.better(f"`{first}`", f"`{second}`", compared))
        else:
            verdict = (f"within noise: higher on {higher} of {len(differences)} seeds, by "
                       f"{'less' if abs(mean) <= spread else 'more'} than the spread")
        return Measured(report.paired_difference(f"`{first}`", f"`{second}`", compared),
                        verdict, mean, spread)
    return measure


def covariate_shift(root):
    """Claim 4: how much the second ReLU's input widens over training (all
    units, plot.shift) in bn-after-relu, against plain."""
    chosen = selection(root)
    moved = {network: plot.shift(runs) for network, runs in chosen.runs.items()}
    if any(moved.get(network) is None for network in ("plain", "bn-after-relu")):
        raise results.ResultsError(f"{root}/{DIRECTORY}/ lacks runs of 2 epochs or more of "
                                   "plain and bn-after-relu")
    text = "; ".join(f"`{network}` {each['layer'][0]:.2f}, x{each['layer'][1]:.2f}"
                     for network, each in moved.items() if each is not None)
    after, plain = (change_of(moved[network]["layer"][1]) for network in ("bn-after-relu", "plain"))
    rate = f"at lr {results.exact(chosen.budget[0]['lr'])}"
    verdict = (f"does not hold {rate}: the width of `bn-after-relu`'s input changes far less "
               "than `plain`'s" if after <= REDUCED * plain else
               f"holds {rate}: the width of `bn-after-relu`'s input changes about as much as "
               "`plain`'s, or more")
    return Measured(f"the second ReLU's input, all units, epoch 1 to the last: median moved, "
                    f"width {text}", verdict, moved["bn-after-relu"]["layer"][1], None)


CLAIMS = [
    Claim('"The final accuracies on the test set are about 0.94."', (DIRECTORY,),
          about_the_target),
    Claim('BatchNorm before and after each ReLU "improve[s] test accuracy" over the plain '
          'network', (DIRECTORY,), paired("bn", "plain")),
    Claim('"Removing the batch normalization layers from before the ReLUs can actually '
          'further improve test accuracy."', (DIRECTORY,), paired("bn-after-relu", "bn")),
    Claim('BatchNorm after each ReLU "does not reduce covariate shift"', (DIRECTORY,),
          covariate_shift),
]
