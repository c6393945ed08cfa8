"""The program around the experiment: the command line (options), progress
lines and tables (report), sweeps and worker processes (sweep), the results
store (results), files written whole and read safely (files), signals
(stopping), the gradient lesson's runner and exercises (lesson, exercises),
and the speed benchmark (benchmark). The lesson files import none of it;
main.py uses it only inside main()."""
