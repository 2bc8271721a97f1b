"""Pipeline stage 3 — solvers, laid out on the axes a solve is made of:

* the vector field — :mod:`trajlen.models` (its rules) and each executor's evaluation of it;
* the method — :mod:`trajlen.solve.methods` (one tableau per file), listed in :mod:`.registry`;
* the step-size controller — :mod:`.controllers` (scipy's and MATLAB's rules, written once);
* the output — :mod:`.output` (which points, and the dense output between steps);
* what a solve hands back — :mod:`.result`.

Three executors loop over these: :mod:`.scipy_ivp` (scipy's own ``OdeSolver`` loop, one network at a
time), :mod:`.compiled` (numba, one network at a time, the fast CPU path) and :mod:`.batch` (torch,
many networks at once, CPU or CUDA). Importing this package imports none of them: the numba and scipy
paths never import torch.
"""
