"""Santurkar et al.'s three tests (docs/study-santurkar.md), measured on
their three sweeps of 3 seeds, one per rate (studies/plan.py). Each claim
compares two networks seed by seed at each rate, by the study's noise rule
(lab.report.seed_differences; on log10 of the ratio for the probes'
measures, as studies.santurkar.plot's probes table does). At each rate the
claim shows (+1), the comparison is within noise (0), or the reverse shows
(-1); the verdict: holds if it shows at every rate, holds in part if at
some, does not hold if at none and the reverse at one, else within noise.
Its value and spread are those of the comparison at lr 0.1, the rate of
the paper's VGG.
"""
import collections
import math
import os
import statistics

from lab import report
from lab.results import ResultsError
from studies import plan
from studies.claims import Claim, Measured
from studies.santurkar import plot as study

RATES = [float(rate) for rate in plan.SANTURKAR_RATES]
DIRECTORIES = tuple(f"santurkar-lr{rate}" for rate in plan.SANTURKAR_RATES)
PAPERS_RATE = 0.1
# Two medians are "similar" (claim 3c) if their ratio is within this factor.
SIMILAR = 1.25
# "Close to two orders of magnitude" (claim 3b): more than 10 ** 1.5, nearer 100 than 10.
CLOSE_TO_100 = 10 ** 1.5

HEADER = ("Santurkar et al. report",
          "measured at lr " + ", ".join(plan.SANTURKAR_RATES[:-1])
          + f" and {plan.SANTURKAR_RATES[-1]}", "verdict")

# report.seed_differences's answer, named.
Compared = collections.namedtuple("Compared", "differences mean spread higher counts")


def studies(root):
    """{rate: (runs, diverged)} of each sweep in root (study.read_study);
    ResultsError if one holds runs at another rate than its name's."""
    found = {}
    for directory, expected in zip(DIRECTORIES, RATES):
        rate, runs, diverged = study.read_study(os.path.join(root, directory))
        if rate != expected:
            raise ResultsError(f"{os.path.join(root, directory)}/ holds runs at lr {rate:g}, "
                               f"not {expected:g}")
        found[rate] = runs, diverged
    return found


def compared(first, second):
    """The noise rule on {seed: value} of two networks, as a Compared."""
    answer = report.seed_differences(first, second)
    if answer is None:
        raise ResultsError("fewer than 2 seeds shared by the networks compared")
    return Compared(*answer)


def ratio(runs, key, first="bn", second="plain"):
    """study.probe_ratio, a Ratio; ResultsError if there is none."""
    answer = study.probe_ratio(runs, key, first, second)
    if isinstance(answer, str):
        raise ResultsError(f"{first} / {second}, {study.MEASURES[key][0]}: {answer}")
    return answer


def sign(difference):
    """+1 if a Compared or a Ratio counts and is positive, -1 if it counts
    and is negative, else 0."""
    return 0 if not difference.counts else 1 if difference.mean > 0 else -1


def factor(each):
    """A Ratio in words: "x0.32", or "within noise"."""
    return study.times(each) if each.counts else "within noise"


def rates_words(rates):
    """"every rate", or "lr 0.001 and 0.1"."""
    if len(rates) == len(RATES):
        return "every rate"
    names = [f"{rate:g}" for rate in rates]
    return "lr " + (f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0])


def head(signs):
    """The verdict's first words from the signs at each rate (+1: the claim
    shows there)."""
    signs = set(signs)
    return ("holds" if signs == {1} else "holds in part" if 1 in signs else
            "does not hold" if -1 in signs else "within noise")


def why(outcomes, words):
    """outcomes {rate: sign} in words ({sign: what it means}): "less at lr
    0.1 and 0.3; more at lr 0.001"."""
    return "; ".join(f"{words[each]} at {rates_words([r for r in outcomes if outcomes[r] == each])}"
                     for each in (1, 0, -1) if each in outcomes.values())


def ratios(root, measures, what):
    """`bn` / `plain` of the probes' measures (keys of study.MEASURES) at
    each rate: the text of a Measured (`what`: the name of the measures,
    then of each one), {rate: sign of the first, -1 where it is smaller
    with BatchNorm} and {rate: [Ratio of each measure]}."""
    found = {rate: [ratio(runs, key) for key in measures]
             for rate, (runs, _) in studies(root).items()}
    text = f"{what[0]}, `bn` / `plain`: " + "; ".join(
        f"{name} " + ", ".join(factor(found[rate][i]) for rate in RATES)
        for i, name in enumerate(what[1:]))
    return text, {rate: -sign(each[0]) for rate, each in found.items()}, found


def within(each):
    """" (within noise)" if a Compared or a Ratio does not count, else ""."""
    return "" if each.counts else " (within noise)"


def noise_effect(runs, diverged, noisy):
    """A noisy network against its twin without noise, at one rate: (in
    words, the Compared of the last epoch's training loss, the Compared of
    the test accuracy); or (its diverged runs in words, None, None)."""
    twin = noisy.removesuffix("-noisy")
    if noisy in diverged:
        return study.diverged_words(diverged[noisy], len(runs.get(noisy, {}))), None, None
    loss, accuracy = (compared(values[noisy], values[twin])
                      for values in (study.last_losses(runs), study.test_accuracies(runs)))
    means = [statistics.mean(study.last_losses(runs)[network].values())
             for network in (noisy, twin)]
    return (f"training loss x{means[0] / means[1]:.3g}{within(loss)}, test accuracy "
            f"{accuracy.mean:+.4f}{within(accuracy)}", loss, accuracy)


def noisy_bn(root):
    """`bn-noisy` against `bn`: the claim shows where its training loss and
    test accuracy are within noise of bn's, in part where it trains worse;
    the reverse where a run diverges."""
    text, outcomes, worse, value = [], {}, {}, None
    for rate, (runs, diverged) in studies(root).items():
        if "bn" not in runs:            # nothing to compare the noisy bn with
            text.append(f"lr {rate:g}: no `bn` to compare with, "
                        + (study.diverged_words(diverged["bn"], 0) if "bn" in diverged
                           else "no run of it finished"))
            continue
        words, loss, accuracy = noise_effect(runs, diverged, "bn-noisy")
        text.append(f"lr {rate:g}: {words}")
        outcomes[rate] = -1 if loss is None else 0 if loss.counts or accuracy.counts else 1
        if loss is not None:
            worse.setdefault("a higher training loss", []).extend([rate] * (sign(loss) > 0))
            worse.setdefault("a lower test accuracy", []).extend([rate] * (sign(accuracy) < 0))
            value = accuracy if rate == PAPERS_RATE else value
    worse = {what: rates for what, rates in worse.items() if rates}
    if not outcomes:
        raise ResultsError("`bn` diverges at every rate: there is no `bn` to compare "
                           "`bn-noisy` with")
    if -1 in outcomes.values():
        said = f"does not hold: it diverges at {rates_words([r for r in outcomes if outcomes[r] < 0])}"
    elif not worse:
        said = f"holds: it trains as `bn` does at {rates_words(list(outcomes))}"
    else:
        at = {}                     # the same rates, said once
        for what, rates in worse.items():
            at.setdefault(tuple(rates), []).append(what)
        said = f"holds in part: it trains at {rates_words(list(outcomes))}, but with " + "; ".join(
            " and ".join(whats) + ("" if len(rates) == len(outcomes) else f" at {rates_words(rates)}")
            for rates, whats in at.items())
    return Measured("`bn-noisy` against `bn`, " + "; ".join(text), said,
                    value and float(value.mean), value and float(value.spread))


def noisy_plain(root):
    """`plain-noisy` against `plain`: the claim shows where every run of
    plain-noisy diverges (and plain's do not), in part where some do; the
    reverse where it trains."""
    outcomes, text = {}, []
    for rate, (runs, diverged) in studies(root).items():
        if "plain" not in runs:
            text.append(f"lr {rate:g}: `plain` diverges too")
            continue
        words, loss, _ = noise_effect(runs, diverged, "plain-noisy")
        text.append(f"lr {rate:g}: {words}")
        outcomes[rate] = -1 if loss is not None else 0 if "plain-noisy" in runs else 1
    said = why(outcomes, {1: "every seed diverges", 0: "some seeds diverge", -1: "it trains"})
    return Measured("`plain-noisy` against `plain`, " + "; ".join(text),
                    f"{head(outcomes.values())}: {said}", None, None)


def noisy_distribution(root):
    """How far unit 0's median input to the second ReLU moves per probe, in
    `bn-noisy` against `plain`: the claim shows where it moves more."""
    found = {rate: ratio(runs, "unit", "bn-noisy") for rate, (runs, _) in studies(root).items()}
    outcomes = {rate: sign(each) for rate, each in found.items()}
    said = why(outcomes, {1: "less stable", 0: "within noise", -1: "more stable"})
    return Measured("unit 0's median into ReLU 2, moved per probe, `bn-noisy` / `plain`: "
                    + ", ".join(factor(found[rate]) for rate in RATES),
                    f"{head(outcomes.values())}: {said}", found[PAPERS_RATE].mean,
                    found[PAPERS_RATE].spread)


def covariate_shift(root):
    """Definition 2.1's shift of layers 2 and 3, `bn` / `plain`, in relative
    norm and 1 - cos: the claim shows at a layer and rate unless a measure
    is smaller with BatchNorm and none larger (reduced)."""
    found = {rate: {layer: [ratio(runs, f"{kind}{layer}") for kind in ("ics", "cos")]
                    for layer in (2, 3)} for rate, (runs, _) in studies(root).items()}
    cases = {}                  # (layer, rate): -1 reduced, 0 not reduced, +1 increased
    for rate, layers in found.items():
        for layer, each in layers.items():
            signs = {sign(measure) for measure in each}
            cases[layer, rate] = (-1 if -1 in signs and 1 not in signs else
                                  1 if 1 in signs and -1 not in signs else 0)
    def word(layer, rate):
        if cases[layer, rate] == -1 and sign(found[rate][layer][0]) == 0:
            return "reduced in direction only"          # 1 - cos smaller, the norm not
        return {1: "increased", 0: "within noise", -1: "reduced"}[cases[layer, rate]]
    said = "; ".join(f"layer {layer}: " + ", ".join(
        f"{each} at {rates_words([r for r in RATES if word(layer, r) == each])}"
        for each in dict.fromkeys(word(layer, rate) for rate in RATES)) for layer in (2, 3))
    text = "`bn` / `plain`, " + "; ".join(
        f"layer {layer}: " + ", ".join(factor(found[rate][layer][0]) for rate in RATES)
        + " (1 - cos: " + ", ".join(factor(found[rate][layer][1]) for rate in RATES) + ")"
        for layer in (2, 3))
    value = found[PAPERS_RATE][2][0]
    verdict = head(1 if each >= 0 else -1 for each in cases.values())
    return Measured(text, f"{verdict}: {said}", value.mean, value.spread)


def loss_variation(root):
    """The loss's range along the gradient, `bn` / `plain`: the claim shows
    where it is smaller with BatchNorm in the first epoch."""
    text, outcomes, found = ratios(root, ("loss_early", "loss"),
                                   ("loss range along g", "first epoch", "all steps"))
    said = why(outcomes, {1: "less", 0: "within noise", -1: "more"})
    if 1 in outcomes.values() and all(found[rate][0].mean < found[rate][1].mean
                                      for rate in outcomes if outcomes[rate] > 0):
        said += "; most in the first epoch"
    value = found[PAPERS_RATE][0]
    return Measured(text, f"{head(outcomes.values())}: {said}", value.mean, value.spread)


def predictiveness(root):
    """The gradient's largest change along it, `bn` / `plain`, first epoch:
    the claim shows where it is smaller with BatchNorm; it holds if by
    close to two orders of magnitude at every rate."""
    text, outcomes, found = ratios(root, ("change_early", "change"),
                                   ("largest gradient change", "first epoch", "all steps"))
    verdict = head(outcomes.values())
    most = 10 ** -min([found[rate][0].mean for rate in outcomes if outcomes[rate] > 0] or [0])
    close = most >= CLOSE_TO_100
    if not close and verdict == "holds":
        verdict = "holds in part"
    by = f"{most:.2g}" if most < 10 else f"{most:.0f}"           # 250, not 2.5e+02
    said = why(outcomes, {1: f"smaller, by at most {by} times" + ("" if close else ", not 100,"),
                          0: "within noise", -1: "larger"})
    value = found[PAPERS_RATE][0]
    return Measured(text, f"{verdict}: {said}", value.mean, value.spread)


def smoothness(root):
    """The effective beta-smoothness, `bn` / `plain`: the claim shows where
    its largest value is smaller with BatchNorm, if its medians are similar
    (within SIMILAR) at every rate."""
    text, outcomes, found = ratios(root, ("beta_max", "beta"),
                                   ("effective beta-smoothness", "largest", "median"))
    unlike = [rate for rate in RATES
              if found[rate][1].counts and abs(found[rate][1].mean) > math.log10(SIMILAR)]
    verdict = head(outcomes.values())
    if unlike and verdict == "holds":
        verdict = "holds in part"
    said = (f"medians within x{SIMILAR:g} " + ("at every rate" if not unlike else
                                               f"except at {rates_words(unlike)}")
            + "; peaks " + why(outcomes, {1: "smaller", 0: "within noise", -1: "larger"}))
    value = found[PAPERS_RATE][0]
    return Measured(text, f"{verdict}: {said}", value.mean, value.spread)


CLAIMS = [
    Claim("1a. `bn` with noise after each BatchNorm trains about as well as `bn`",
          DIRECTORIES, noisy_bn),
    Claim("1b. The same noise in the standard network stops it from training",
          DIRECTORIES, noisy_plain),
    Claim("1c. The noisy BatchNorm network's distributions are less stable than the standard "
          "network's", DIRECTORIES, noisy_distribution),
    Claim("2. BatchNorm does not reduce internal covariate shift, and often increases it",
          DIRECTORIES, covariate_shift),
    Claim("3a. With BatchNorm the loss varies far less along the gradient, especially early",
          DIRECTORIES, loss_variation),
    Claim("3b. With BatchNorm the gradient is far more predictive, by close to two orders of "
          "magnitude early on (on their VGG)", DIRECTORIES, predictiveness),
    Claim("3c. The effective beta-smoothness has a similar median but fewer and smaller spikes "
          "with BatchNorm", DIRECTORIES, smoothness),
]
