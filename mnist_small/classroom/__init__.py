"""Class mode's teaching, above training: a model fine-tuned on the class's drawings
(``finetune``), run as one job at a time in its own process (``jobs``), the command line
(``cli``), and the teacher code's back-off (``lockout``)."""
