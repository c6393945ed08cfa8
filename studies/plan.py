"""Every run behind the figures and tables of README.md and docs/: the
commands the docs show, each writing into a directory of its own under one
results directory, and the commands that then print the tables and draw
the figures. `python3 -m studies` runs them all.

A command is a list of words: its program ("main.py", or "-m" and a study's
module), then its options. RESULTS in a word stands for the results
directory, DATA for the data directory.
"""
import collections

# name: what --only picks; trains: (subdirectory, command) pairs, each run
# trained by a process of its own; draws: commands; needs: a module the part
# needs that is not a requirement (PyTorch), or None; whole: commands that
# train, each run as a whole before the draws (it resumes by itself).
Part = collections.namedtuple("Part", "name trains draws needs whole", defaults=(None, ()))

RATES = ["0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"]
SANTURKAR_RATES = ["0.001", "0.1", "0.3"]

PARTS = [
    Part("original",                    # docs/study.md, the original project's claims
         [("original", ["main.py", "--seeds", "5", "--net", "all"])],
         [["plot.py", "RESULTS/original"]]),
    Part("lr-sweep",                    # docs/study.md, BatchNorm's own claims
         [("lr-sweep", ["main.py", "--net", "all", "--seeds", "3", "--lr", *RATES]),
          ("lr-sweep", ["main.py", "--net", "all", "--seeds", "3", "--lr", "0.001",
                        "--init-scale", "0.1", "1", "10"])],
         [["plot.py", "RESULTS/lr-sweep"], ["plot.py", "RESULTS/lr-sweep", "--lr", "1"]]),
    Part("scale",                       # docs/study.md, which layers the weight scale reaches
         [(f"scale-{layers}", ["main.py", "--net", "bn", "--net", "plain", "--seeds", "3",
                               "--lr", "0.001", "--init-scale", "0.1", "1", "10",
                               "--init-scale-layers", layers, "--epochs", "5"])
          for layers in ("hidden", "all")],
         [["plot.py", "RESULTS/scale-hidden"], ["plot.py", "RESULTS/scale-all"]]),
    Part("santurkar",                   # docs/study-santurkar.md
         [(f"santurkar-lr{rate}", ["-m", "studies.santurkar", "--seeds", "3", "--lr", rate,
                                   "--epochs", "10"]) for rate in SANTURKAR_RATES],
         [["-m", "studies.santurkar.plot",
           *(f"RESULTS/santurkar-lr{rate}" for rate in SANTURKAR_RATES), "--data-dir", "DATA"]]),
    Part("ioffe-szegedy",               # docs/study-ioffe-szegedy.md
         [("ioffe-szegedy", ["-m", "studies.ioffe_szegedy", "--seeds", "3"]),
          ("ioffe-szegedy-lr0.3", ["-m", "studies.ioffe_szegedy", "--seeds", "3", "--lr", "0.3"]),
          ("ioffe-grid", ["-m", "studies.ioffe_szegedy", "--lr", "0.03", "0.1", "0.3", "1", "3",
                          "--seed", "100"]),
          ("ioffe-grid10", ["-m", "studies.ioffe_szegedy", "--lr", "10", "--seed", "100"])],
         [["-m", "studies.ioffe_szegedy.plot", "RESULTS/ioffe-szegedy"],
          ["-m", "studies.ioffe_szegedy.plot", "RESULTS/ioffe-szegedy-lr0.3", "--lr", "0.3"],
          ["-m", "studies.ioffe_szegedy.plot", "RESULTS/ioffe-grid", "RESULTS/ioffe-grid10"]]),
    Part("pytorch",                     # docs/study.md, NumPy beside PyTorch
         [], [["-m", "lab.agreement", "RESULTS/original", "RESULTS/pytorch"]], needs="torch",
         whole=[["-m", "lab.benchmark", "accuracy", "--seeds", "5", "--net", "all",
                 "--numpy-dir", "RESULTS/original", "--results-dir", "RESULTS/pytorch",
                 "--data-dir", "DATA"]]),
]
