"""The program around the experiment: the command line (options), progress
lines and tables (report), sweeps and worker processes (sweep), the results
store (results), files written whole and read safely (files), signals
(stopping), the gradient lesson's runner and exercises (lesson, exercises),
the speed benchmark (benchmark), and the scheduler that reproduces the
whole study (reproduce, for `python3 -m studies`). The lesson files import
none of it: main.py uses it only when run as a program."""
