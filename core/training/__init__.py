"""Training a classifier on one attribute and recording it as a run.

Torch-free (the window imports these before torch): ``events`` (what a run reports), ``devices`` (which GPU, probed in
a subprocess), ``recorder`` (one run's lifecycle in the catalog: lock, events log, best epoch, finish / fail /
cancel). With torch: ``dataset``, ``losses``, ``backbones``, ``checkpoints``, ``distributed``, ``loop`` (the
``train`` generator) and ``export``.
"""
