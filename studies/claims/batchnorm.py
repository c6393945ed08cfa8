"""BatchNorm's own claims, Ioffe & Szegedy's (2015) and Bjorck et al.'s
(2018), measured on lr-sweep/ (learning rates 1e-3 to 10, 50 epochs, 3
seeds, all three networks) and scale-hidden/ (weight scales 0.1, 1 and 10
of the hidden layers, 5 epochs, bn and plain) (docs/study.md)."""
import os

import numpy as np

import plot
from lab import report
from lab import results
from studies.claims import Claim, Measured

HEADER = ("the claim", "measured", "verdict")
SWEEP, SCALES = "lr-sweep", "scale-hidden"
# "Much higher" rates, "far fewer" steps: the paper's smallest factor, BN-x5.
MUCH = 5


def sweep(root):
    """The records of root's lr-sweep/ (the budget of its most runs), and
    {network: report.Rates} over its learning rates at weight scale 1."""
    rows = plot.select(os.path.join(root, SWEEP)).budget
    return rows, report.over_rates(rows, plot.ordered(row["network"] for row in rows), 1.0)


def the_network(rates, network, survived=False):
    """rates[network]; a ResultsError if lr-sweep/ has no runs of it, or
    (if survived) no rate at which every seed of it finished."""
    if network not in rates:
        raise results.ResultsError(f"{SWEEP}/ has no runs of {network} at weight scale 1")
    if survived and not rates[network].survived:
        raise results.ResultsError(f"{SWEEP}/ has no rate at which every seed of {network} "
                                   "finished (weight scale 1)")
    return rates[network]


def higher_rates(root):
    """Claim 1: the largest rate at which no seed diverged, with BatchNorm
    and without."""
    _, rates = sweep(root)
    largest = {network: max(each.survived) for network, each in rates.items() if each.survived}
    plain = largest.get("plain")
    if plain is None or len(largest) < 2:
        raise results.ResultsError(f"{SWEEP}/ has no rate at which plain, and a BatchNorm "
                                   "network, trained every seed")
    factor = min(rate for network, rate in largest.items() if network != "plain") / plain
    text = "largest rate at which no seed diverged: " + ", ".join(
        f"`{network}` {results.exact(rate)}" for network, rate in largest.items())
    verdict = (f"holds: {factor:g} times the rate" if factor >= MUCH else
               f"holds in part: only {factor:g} times the rate" if factor > 1 else
               "does not hold: no higher rate")
    return Measured(text, verdict, factor, None)


def fewer_steps(root):
    """Claim 2: the epochs to 0.94 at the sweep's smallest rate, and to 0.98
    at the largest rate plain survives, at equal rates: plain's against
    bn's (plot.epochs_to: means over the seeds that reached it)."""
    rows, rates = sweep(root)
    by_rate = plot.along(plot.sweep_points(rows), "lr", "init_scale", 1.0)
    low, high = min(by_rate["plain"]), max(the_network(rates, "plain", survived=True).survived)
    parts, factors = [], []
    for rate, target in ((low, plot.TARGETS[0]), (high, plot.TARGETS[1])):
        cells, means = [], {}
        for network, groups in by_rate.items():
            found = plot.epochs_to(groups.get(rate, []), target)
            if found:
                seeds = len(groups[rate])
                means[network] = np.mean(found)
                cells.append(f"`{network}` {means[network]:.1f}"
                             + (f" ({len(found)} of {seeds} seeds)" if len(found) < seeds else ""))
        if cells:
            parts.append(f"to {target:g} at {results.exact(rate)}: " + ", ".join(cells))
        if "bn" in means and "plain" in means:
            factors.append(means["plain"] / means["bn"])
    if not factors:
        raise results.ResultsError(f"{SWEEP}/ has no rate at which bn and plain both reached "
                                   "0.94 or 0.98")
    low, high = (f"{factor:.1f}" for factor in (min(factors), max(factors)))
    said = low if low == high else f"{low}-{high}"
    verdict = (f"holds: `bn` needs {said} times fewer epochs" if min(factors) >= MUCH else
               f"holds in part: `bn` needs only {said} times fewer epochs"
               if min(factors) > 1 else f"does not hold: `plain` needs {said} times `bn`'s")
    return Measured("epochs, " + "; ".join(parts), verdict, min(factors), None)


def resilient_to_scale(root):
    """Claim 3: how far the test accuracy moves across the weight scales of
    scale-hidden/ (only the layers a BatchNorm follows in bn scaled), in bn
    and in plain (plot.scale_means)."""
    rows = plot.select(os.path.join(root, SCALES)).budget
    rate = rows[0]["lr"]
    scales, means = plot.scale_means(rows, rate)
    if len(scales) < 2 or not {"bn", "plain"} <= set(means):
        raise results.ResultsError(f"{SCALES}/ lacks runs of bn and plain at 2 scales or more")
    moved = {network: plot.moves(means[network]) for network in ("bn", "plain")}
    text = (f"hidden layers scaled by K = {', '.join(map(results.exact, scales))}, "
            f"{rows[0]['epochs']} epochs: test accuracy moves by {moved['bn']:.2f} in `bn`, "
            f"{moved['plain']:.2f} in `plain`")
    verdict = ("holds: `bn`'s accuracy moves less" if moved["bn"] < moved["plain"] else
               "holds in part: the function is scale-free (a test checks it), but with plain "
               "SGD `bn`'s accuracy moves more")
    return Measured(text, verdict, moved["bn"], None)


def gain_at_equal_rates(root):
    """Claim 4: bn - plain, seed by seed, at each rate both trained every
    seed, and at each one's best rate (report.seed_differences)."""
    rows, rates = sweep(root)
    accuracy = report.accuracies(rows)
    best = {network: the_network(rates, network, survived=True).best
            for network in ("bn", "plain")}
    gains, noise = [], []
    for rate in sorted(set(the_network(rates, "bn").survived) & set(rates["plain"].survived)):
        compared = report.seed_differences(accuracy["bn", rate, 1.0], accuracy["plain", rate, 1.0])
        if compared is not None and compared[4]:
            gains.append(f"{compared[1]:+.4f} at {results.exact(rate)}")
        elif compared is not None:
            noise.append(results.exact(rate))
    compared = report.seed_differences(accuracy["bn", best["bn"], 1.0],
                                       accuracy["plain", best["plain"], 1.0])
    if compared is None or None in best.values():
        raise results.ResultsError(f"{SWEEP}/ has fewer than 2 seeds of bn and plain at their "
                                   "best rates")
    text = (f"`bn` - `plain` at equal rates: {', '.join(gains) or 'no difference'}; within "
            f"noise at {', '.join(noise) or 'none'}. At each one's best rate ("
            f"{results.exact(best['bn'])} and {results.exact(best['plain'])}): "
            f"{compared[1]:+.4f}, seeds' spread {compared[2]:.4f}")
    if not (compared[4] and compared[1] > 0):
        verdict = "does not hold: no gain at each one's best rate"
    elif gains:
        verdict = (f"holds in part: `bn` also gains at {len(gains)} of the "
                   f"{len(gains) + len(noise)} rates both use")
    else:
        verdict = "holds: no gain at equal rates"
    return Measured(text, verdict, compared[1], compared[2])


CLAIMS = [
    Claim('BatchNorm lets a network train at much higher learning rates (sec. 3.3; '
          '"BN-x5", "BN-x30", sec. 4.2)', (SWEEP,), higher_rates),
    Claim('It reaches the same accuracy in far fewer steps (14 times fewer on ImageNet)',
          (SWEEP,), fewer_steps),
    Claim('BatchNorm makes training "more resilient to the parameter scale" (sec. 3.3), so '
          'that one can "be less careful about initialization" (abstract)', (SCALES,),
          resilient_to_scale),
    Claim('Bjorck, Gomes, Selman and Weinberger 2018, "Understanding Batch Normalization" '
          '(NeurIPS 2018, arXiv:1806.02375): BatchNorm\'s gain comes mainly from the larger '
          'learning rates it allows; at a rate both networks can use, the gain is small',
          (SWEEP,), gain_at_equal_rates),
]
