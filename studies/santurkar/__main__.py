"""python3 -m studies.santurkar: train the study's networks, probing every
step, with main.py's options (python3 -m studies.santurkar --help)."""
from lab import stopping
stopping.quiet_ctrl_c("studies.santurkar")      # before NumPy's slow import

import sys

import main
from studies import santurkar

sys.exit(stopping.exit_status(
    lambda: main.main(experiment=santurkar.EXPERIMENT, program="studies.santurkar")))
