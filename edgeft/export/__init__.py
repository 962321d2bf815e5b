"""Export steps that need edgeft's training side (torch, the run's model): vocabulary pruning
(``prune_vocab``, `edgeft export --prune-vocab`). The export itself is ``edgeft_exporters``."""
