"""python3 -m studies.ioffe_szegedy: train the study's networks on its
recipe, with main.py's options (python3 -m studies.ioffe_szegedy --help)."""
from lab import stopping
stopping.quiet_ctrl_c("studies.ioffe_szegedy")  # before NumPy's slow import

import sys

import main
from studies import ioffe_szegedy

sys.exit(stopping.exit_status(
    lambda: main.main(experiment=ioffe_szegedy.EXPERIMENT, program="studies.ioffe_szegedy")))
