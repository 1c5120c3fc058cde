"""Training: the loop (``loop``: resumable, EMA, DistributedDataParallel under torchrun), what
each family's training does (``recipe`` and one module per family), the training data
(``data``) and what ``fastshower train <model>`` runs (``trainers``). Networks live in
``fastshower.models``, which imports nothing from here."""
