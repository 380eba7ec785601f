"""The cascade loop: static fixed point (``engine.static``) and time-stepped dynamics
(``engine.dynamic``), with numba kernels beside their plain twins (``engine.kernels``)."""
