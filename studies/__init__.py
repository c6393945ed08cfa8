"""The studies: each a package that builds its own main.Experiment (its
networks, recipe and probes) from main.py's parts, trains with
`python3 -m studies.NAME`, and prints its tables and draws its figures
with `python3 -m studies.NAME.plot`.

    santurkar        Santurkar et al. 2018: does BatchNorm reduce internal
                     covariate shift, or smooth the loss landscape?
    ioffe_szegedy    Ioffe & Szegedy 2015, sec. 4.1 and Figure 1: their
                     own MNIST experiment, redrawn
"""
