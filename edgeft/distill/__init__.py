"""Distillation: a finished run (the teacher) -> a run with fewer layers (the student).

``train`` (`edgeft distill`: reads the teacher and trains the student through a task's recipe),
``loss`` (the soft-target and hidden-state losses and the Trainer that applies them) and
``students`` (the student cut from the teacher's layers).
"""
