"""Ioffe & Szegedy's claims about their MNIST experiment, Figure 1
(docs/study-ioffe-szegedy.md), measured on its two sweeps of 3 seeds: at lr
3, the rate chosen on the network without BatchNorm, and at 0.3,
BatchNorm's own best rate. Each claim compares `sigmoid-bn` with `sigmoid`
seed by seed at each rate, by the study's noise rule (lab.report.
seed_differences), each comparison signed so that a positive difference is
in BatchNorm's favour. At a rate the claim is kept if every comparison
counts for BatchNorm, lost if one counts against it, else within noise.
The verdict: holds if kept at both rates, holds in part if at one, does not
hold if at none and lost at one, else within noise. Its value and spread
are those of the comparison its outcome at lr 3 rests on.
"""
import collections
import os
import statistics

from lab import report
from lab.results import ResultsError
from studies.claims import Claim, Measured, change_of
from studies.ioffe_szegedy import LEARNING_RATE, NETWORKS, PROBE_UNIT
from studies.ioffe_szegedy import plot as study

HEADER = ("the paper says", "measured, seed by seed", "verdict")
# The results directory of each rate's sweep (studies/plan.py), the study's rate first.
SWEEPS = {LEARNING_RATE: "ioffe-szegedy", 0.3: "ioffe-szegedy-lr0.3"}

# report.seed_differences's answer, named.
Compared = collections.namedtuple("Compared", "differences mean spread higher counts")


def sweeps(root):
    """{lr: (runs in_steps, the steps of an epoch)} of each sweep in root."""
    found = {}
    for lr, directory in SWEEPS.items():
        runs, every = study.read_study([os.path.join(root, directory)])
        at = study.rate(runs, lr)
        for network in NETWORKS:
            if network not in runs[at]:
                raise ResultsError(f"{os.path.join(root, directory)}/ has no finished run "
                                   f"of {network}")
        found[lr] = runs[at], every[at]
    return found


def compared(for_batchnorm, against):
    """The noise rule on {seed: value} of each network, as a Compared; a
    positive mean is BatchNorm's favour. ResultsError if fewer than 2 seeds
    are shared."""
    answer = report.seed_differences(for_batchnorm, against)
    if answer is None:
        raise ResultsError("fewer than 2 seeds shared by sigmoid and sigmoid-bn")
    return Compared(*answer)


def outcome(comparisons):
    """+1 if every comparison counts for BatchNorm, -1 if one counts against
    it, else 0; and the comparison that outcome rests on."""
    against = [each for each in comparisons if each.counts and each.mean < 0]
    if against:
        return -1, against[0]
    unsure = [each for each in comparisons if not each.counts]
    return (0, unsure[0]) if unsure else (1, comparisons[0])


def verdict(comparisons, better, worse):
    """A Measured's verdict and the comparison its value rests on, from
    {lr: [Compared]}: its first words say holds, holds in part, does not
    hold or within noise; then, in words, at which rate BatchNorm is
    `better`, within noise or `worse`."""
    outcomes = {lr: outcome(each) for lr, each in comparisons.items()}
    signs = {sign for sign, _ in outcomes.values()}
    head = ("holds" if signs == {1} else "holds in part" if 1 in signs else
            "does not hold" if -1 in signs else "within noise")
    said = {1: f"{better} ", 0: "" if head == "within noise" else "within noise ",
            -1: f"{worse} "}
    why = "; ".join(said[sign] + "at lr " + " and ".join(f"{lr:g}" for lr in outcomes
                                                           if outcomes[lr][0] == sign)
                    for sign in (1, 0, -1) if sign in signs)
    return f"{head}: {why}", outcomes[LEARNING_RATE][1]


def difference(each, digits=4):
    """A Compared in words: mean, how many seeds favour BatchNorm, spread."""
    return (f"{each.mean:+.{digits}f} (higher on {each.higher} of {len(each.differences)} seeds; "
            f"spread {each.spread:.{digits}f})")


def accuracy_claim(root, what, accuracies, better, worse):
    """A Measured: `sigmoid-bn` - `sigmoid` of accuracies(network runs,
    steps) ({seed: accuracy}) at each rate."""
    comparisons = {}
    for lr, (runs, every) in sweeps(root).items():
        comparisons[lr] = [compared(accuracies(runs["sigmoid-bn"], every),
                                    accuracies(runs["sigmoid"], every))]
    text = f"{what}, `sigmoid-bn` - `sigmoid`: " + "; ".join(
        f"lr {lr:g} {difference(each)}" for lr, [each] in comparisons.items())
    said, rests = verdict(comparisons, better, worse)
    return Measured(text, said, float(rests.mean), float(rests.spread))


def faster(root):
    """Validation accuracy after the epoch that ends closest to 10,000 steps."""
    def early(network_runs, every):
        return study.accuracy_at(network_runs, study.ends(every)[0])
    return accuracy_claim(root, f"validation accuracy after {study.ends()[0]:,} steps", early,
                          "ahead", "behind")


def higher(root):
    """Test accuracy at the end."""
    return accuracy_claim(root, "test accuracy at the end",
                          lambda network_runs, every: study.test_accuracy(network_runs),
                          "higher", "lower")


def stable(root):
    """From 10,000 steps to the end, how far unit PROBE_UNIT's median moved and by
    what factor its width changed (study.drifts): smaller with BatchNorm is
    its favour."""
    comparisons, parts = {}, []
    for lr, (runs, every) in sweeps(root).items():
        drifts = {network: study.drifts(runs[network], every) for network in NETWORKS}
        # {network: {seed: value}}: first how far the median moved, then the width's factor.
        measures = [{network: {seed: pair[which] for seed, pair in drifts[network].items()}
                     for network in NETWORKS} for which in (0, 1)]
        changed = {network: {seed: change_of(factor)
                             for seed, factor in measures[1][network].items()}
                   for network in NETWORKS}
        comparisons[lr] = [compared(each["sigmoid"], each["sigmoid-bn"])
                           for each in (measures[0], changed)]
        moved, grew = ([statistics.mean(each[network].values()) for network in NETWORKS]
                       for each in measures)
        parts.append(f"lr {lr:g}: median moved {moved[0]:.2f} / {moved[1]:.2f}, "
                     f"width x{grew[0]:.2f} / x{grew[1]:.2f}")
    text = (f"unit {PROBE_UNIT}'s sigmoid input from {study.ends()[0]:,} steps to the end, `sigmoid` / "
            "`sigmoid-bn`: " + "; ".join(parts))
    said, rests = verdict(comparisons, "steadier", "less steady")
    return Measured(text, said, float(rests.mean), float(rests.spread))


DIRECTORIES = tuple(SWEEPS.values())
CLAIMS = [
    Claim('Figure 1(a): "Batch Normalization helps the network train faster"',
          DIRECTORIES, faster),
    Claim('Figure 1(a): "and achieve higher accuracy"; "the batch-normalized network enjoys '
          'the higher test accuracy"', DIRECTORIES, higher),
    Claim("Figure 1(b, c): without BatchNorm the input of a typical last-layer sigmoid "
          '"change[s] significantly over time, both in [its] mean and the variance"; with it '
          'the distribution is "much more stable"', DIRECTORIES, stable),
]
