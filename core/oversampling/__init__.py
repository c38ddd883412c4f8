"""The convex-GAN minority oversampler (Park et al. 2022): feature dictionaries, the generator / discriminator /
classifier game (``gan``) and the job that runs it on a finished run and records a second run (``job``). Built on
:mod:`core.training`.
"""
