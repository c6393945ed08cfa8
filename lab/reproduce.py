"""Reproducing the whole study: the runs of studies/plan.py's commands, each
trained by a process of its own (main.py or a study's command, one network,
seed, rate and weight scale), as many at once as there are cores, the
longest first; then the commands that print the tables and draw the
figures. `python3 -m studies` is its command line.

- A run already saved with the same settings (its run.csv in its place) is
  not trained again: a reproduction killed at any moment goes on where it
  was when started again. --fresh trains every run again.
- Each run gets one BLAS thread: on a machine of N cores, N runs at once;
  and a result does not depend on --jobs (the thread count can change its
  last bits), so that on the snapshot's CPU it is bit-identical.
- --list prints the command of each run still to do, for a cluster's job
  array or GNU parallel; the per-run records (lab/results.py) let many
  processes save into one results directory.
- --quick runs each train command whole (one process, main.py's own
  sweep), with 2 epochs on 500 images and at most 2 seeds, into a
  results directory of its own: the whole pipeline in a minute or two.
"""
import collections
import signal
import importlib.util
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import main
import mnist
from lab import options, report, results, stopping, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A run to train: its part, results directory, command (after "python3"),
# name in that directory, and cost (epochs x images x weights, for the order
# and the estimate of the time left).
# settings: the run's network, seed and settings as its run.csv records them
# (None: not checked).
Job = collections.namedtuple("Job", "part directory command name cost settings",
                             defaults=(None,))
QUICK = {"--epochs": ["2"], "--limit": ["500"]}
QUICK_SEEDS = 2


def experiment_of(command):
    """The main.Experiment that command's program trains, and the program's
    name as its messages give it."""
    if command[0] == "main.py":
        return main.ORIGINAL, "main.py"
    module = importlib.import_module(command[1])
    return module.EXPERIMENT, command[1]


def with_option(words, option, values):
    """words with option's values replaced by values (or the option added)."""
    if option not in words:
        return [*words, option, *values]
    start = words.index(option) + 1
    end = next((i for i in range(start, len(words)) if words[i].startswith("--")), len(words))
    return [*words[:start], *values, *words[end:]]


def quick(words):
    """A train command on the quick pipeline's tiny settings."""
    for option, values in QUICK.items():
        words = with_option(words, option, values)
    if "--seeds" in words:
        count = words[words.index("--seeds") + 1]
        words = with_option(words, "--seeds", [str(min(int(count), QUICK_SEEDS))])
    return words


def jobs_of(part, root, data_dir):
    """The runs of part's train commands, as Jobs of one run each."""
    jobs = []
    for subdirectory, words in part.trains:
        directory = os.path.join(root, subdirectory)
        experiment, program = experiment_of(words)
        given = [*words[2 if words[0] == "-m" else 1:], "--data-dir", data_dir,
                 "--results-dir", directory]
        args = options.parse_args(given, experiment, main.TRAIN_SIZE, program)
        weights = sum(math.prod(pair) for pair in zip(
            experiment.networks[args.net[0]].sizes, experiment.networks[args.net[0]].sizes[1:]))
        for run in (sweep.Run(kind, seed, lr, scale) for lr in args.lr
                    for scale in args.init_scale for seed in args.seeds for kind in args.net):
            name = results.run_name(run.kind, run.seed, report.run_settings(args, run),
                                    args.recipe)
            command = [*words[:2 if words[0] == "-m" else 1], "--net", run.kind,
                       "--seed", str(run.seed), "--lr", results.exact(run.lr),
                       "--init-scale", results.exact(run.init_scale),
                       "--init-scale-layers", args.init_scale_layers,
                       "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                       "--limit", str(args.limit), "--dtype", args.dtype,
                       "--data-dir", data_dir, "--results-dir", directory, "--jobs", "1"]
            cost = args.epochs * args.limit * weights * (2 if experiment.step_probes else 1)
            settings = {"network": run.kind, "seed": run.seed,
                        **report.run_settings(args, run)}
            jobs.append(Job(part.name, directory, command, name, cost, settings))
    return jobs


def is_saved(job):
    """True if job's run is saved in its directory (finished or diverged),
    with the settings its name stands for: a run.csv edited by hand to other
    settings is not the run, which is trained again."""
    record = results.read_record(job.directory, job.name)
    return record is not None and all(record.get(key) == value
                                      for key, value in (job.settings or {}).items())


def shown_path(path):
    """path as short as it can be said: relative to the current directory
    if it is inside it, else as it is."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def duration(seconds):
    """Seconds in words: 42 s, 12 min, 1 h 05 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Scheduler:
    """Trains Jobs in processes of their own, up to `width` at once, the
    costliest first, printing a line as each ends and the progress."""

    def __init__(self, jobs, width, total, done_before, show):
        self.pending = sorted(jobs, key=lambda job: job.cost, reverse=True)
        self.width, self.total, self.done, self.show = width, total, done_before, show
        self.running = {}           # process: (job, its start, its standard error's file)
        self.failed = []
        self.started = time.monotonic()
        self.cost_done = 0
        self.cost_left = sum(job.cost for job in jobs)
        # One BLAS thread each: side by side they would fight over the cores,
        # and the thread count can change a result's last bits (the snapshot
        # was made with one), whatever the width.
        self.environment = dict(os.environ, **dict.fromkeys(sweep.BLAS_THREAD_VARIABLES, "1"))

    def execute(self):
        """Train every job; returns the jobs that failed. Stopped (Ctrl-C,
        SIGTERM, SIGHUP), it stops the runs in progress, which save nothing
        half-done, and raises the stop."""
        try:
            while self.pending or self.running:
                while self.pending and len(self.running) < self.width:
                    self.start(self.pending.pop(0))
                time.sleep(0.2)
                for process in [p for p in self.running if p.poll() is not None]:
                    self.ended(process)
        except stopping.STOPS:
            for process in self.running:
                process.send_signal(signal.SIGINT)
            for process in self.running:
                process.wait()
            raise
        return self.failed

    def start(self, job):
        errors = tempfile.TemporaryFile()
        process = subprocess.Popen([sys.executable, *job.command], cwd=ROOT, env=self.environment,
                                   stdout=subprocess.DEVNULL, stderr=errors,
                                   start_new_session=True)    # its signals are ours to send
        self.running[process] = (job, time.monotonic(), errors)

    def ended(self, process):
        job, started, errors = self.running.pop(process)
        self.cost_done += job.cost
        self.cost_left -= job.cost
        record = results.read_record(job.directory, job.name)
        where = shown_path(job.directory)
        if record is None:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip().splitlines() or ["(nothing)"]
            self.failed.append(job)
            self.show(f"failed    {job.name} in {where}/: {said[-1]}")
        else:
            self.done += 1
            outcome = (f"test accuracy {record['test_accuracy']:.4f}"
                       if record["status"] == "finished" else "diverged")
            self.show(f"saved     {job.name} in {where}/: {outcome}, "
                      f"{duration(time.monotonic() - started)}")
        errors.close()
        elapsed = time.monotonic() - self.started
        left = elapsed / self.cost_done * self.cost_left if self.cost_done else math.nan
        self.show(f"[{self.done} of {self.total} runs; {duration(elapsed)} elapsed"
                  + (f", about {duration(left)} left]" if self.cost_left else "]"))


def draw(parts, root, data_dir, show, tiny=False):
    """Run each part's commands trained whole (on tiny settings if tiny),
    then those that print tables and draw figures; a part that needs an
    optional module (PyTorch) is skipped, in one line, where it cannot be
    imported. Returns the number of commands that failed."""
    failed = 0
    for part in parts:
        if part.needs and importlib.util.find_spec(part.needs) is None:
            show(f"\n{part.name}: skipped: {part.needs} cannot be imported here; run from a "
                 "virtual environment with numpy and torch==2.13.0 to set NumPy beside PyTorch")
            continue
        for words in [*(quick(words) if tiny else words for words in part.whole), *part.draws]:
            words = [word.replace("RESULTS", root).replace("DATA", data_dir) for word in words]
            show(f"\n$ python3 {shlex.join(words)}")
            failed += subprocess.run([sys.executable, *words], cwd=ROOT).returncode != 0
    return failed


SETTING = ("network", "study", "lr", "init_scale", "init_scale_layers", "epochs", "batch_size",
           "limit", "dtype", "data")
SHOWN = ("lr", "init_scale", "init_scale_layers", "epochs")    # what the comparison's lines say


def test_accuracies(directory):
    """{setting (the values of SETTING): {seed: test accuracy}} of the runs
    saved in directory that finished (none if it holds no runs)."""
    found = collections.defaultdict(dict)
    try:
        records = results.read_records(directory, warn=False)
    except results.ResultsError:
        return {}
    for record in records:
        if record["status"] == "finished":
            found[tuple(record[key] for key in SETTING)][record["seed"]] = record["test_accuracy"]
    return found


def compare(parts, root, snapshot, show):
    """Set this reproduction beside the snapshot: for each setting of each
    train directory of parts, whether its test accuracies are identical, or
    differ within the seeds' spread or beyond it (the noise rule,
    report.seed_differences, seed by seed), or lack seeds on one side, in
    one line of counts and a line for each setting that differs beyond the
    spread or lacks seeds; then every claim those directories measure, on
    both (studies.claims.compare). Returns (settings beyond the spread or
    lacking seeds, verdicts that differ)."""
    from studies import claims
    directories = list(dict.fromkeys(sub for part in parts for sub, _ in part.trains))
    verdicts = collections.Counter()
    said = []
    for subdirectory in directories:
        before = test_accuracies(os.path.join(snapshot, subdirectory))
        now = test_accuracies(os.path.join(root, subdirectory))
        for setting in sorted(set(before) | set(now), key=str):
            old, new = before.get(setting, {}), now.get(setting, {})
            where = f"{subdirectory} {setting[0]} " + ", ".join(
                f"{key} {results.exact(value)}" for key, value in zip(SETTING, setting)
                if key in SHOWN)
            if set(old) != set(new):        # a run missing, diverged or failed on one side
                verdicts["missing"] += 1
                said.append(f"  seeds differ: {where}: {sorted(old) or 'none'} in the snapshot, "
                            f"{sorted(new) or 'none'} here")
                continue
            compared = None if old == new else report.seed_differences(old, new)
            verdict = ("identical" if old == new else
                       "beyond" if compared is not None and compared[4] else "within")
            verdicts[verdict] += 1
            if verdict == "beyond":
                means = [statistics.fmean(values.values()) for values in (old, new)]
                said.append(f"  beyond: {where}: mean test accuracy {means[0]:.4f} -> "
                            f"{means[1]:.4f}")
    show(f"\nThe snapshot ({shown_path(snapshot)}/) and this reproduction, setting by setting "
         f"(the test accuracies of {sum(verdicts.values())} settings): {verdicts['identical']} "
         f"identical, {verdicts['within']} within the seeds' spread, {verdicts['beyond']} "
         f"beyond it, {verdicts['missing']} with other seeds finished")
    for line in said:
        show(line)
    changed = claims.compare(root, shown_path(snapshot), directories, show)
    return len(said), changed


def reproduce(parts, root, data_dir, jobs=None, fresh=False, listing=False, tiny=False,
              snapshot=None, show=report.show):
    """Train every run of parts (studies.plan.Parts) into root, then draw;
    returns the exit status: 0 all done, 1 some run or drawing failed."""
    mnist.load(data_dir)            # fetched once, before any run; a run's name holds its data
    if tiny:
        return reproduce_quickly(parts, root, data_dir, show)
    every = [job for part in parts for job in jobs_of(part, root, data_dir)]
    unique = list({(job.directory, job.name): job for job in every}.values())
    to_do = unique if fresh else [job for job in unique if not is_saved(job)]
    if listing:
        for job in to_do:
            show(shlex.join(["python3", *job.command]))
        return 0
    width = max(1, min(jobs or sweep.available_cores(), len(to_do) or 1))
    show(f"{len(unique)} runs: {len(unique) - len(to_do)} already saved, {len(to_do)} to train, "
         f"{width} at a time")
    failed = Scheduler(to_do, width, len(unique), len(unique) - len(to_do), show).execute()
    failed_draws = draw(parts, root, data_dir, show)
    if snapshot:
        compare(parts, root, snapshot, show)
    if failed:
        show(f"\n{len(failed)} runs failed (above); start the command again to retry them")
    return 1 if failed or failed_draws else 0


def reproduce_quickly(parts, root, data_dir, show):
    """--quick: each train command whole, on tiny settings, then draw."""
    failed = 0
    for part in parts:
        for subdirectory, words in part.trains:
            command = [*quick(words), "--data-dir", data_dir, "--results-dir",
                       os.path.join(root, subdirectory)]
            show(f"$ python3 {shlex.join(command)}")
            # Its warnings (a run of two commands replaced) are said only if it fails.
            done = subprocess.run([sys.executable, *command], cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            if done.returncode not in (0, 1):           # 1: a run diverged, and is saved
                failed += 1
                show(done.stderr.rstrip())
    failed += draw(parts, root, data_dir, show, tiny=True)
    return 1 if failed else 0
