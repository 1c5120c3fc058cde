"""Evaluation of showers: plots (``plots``) on plain arrays in the dataset layout of
``fastshower.io``, so Geant4 files and generated samples are judged by the same code."""
