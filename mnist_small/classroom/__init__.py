"""Class mode's teaching, above training: a model fine-tuned on the class's drawings
(``finetune``), run as one job per class in its own process, coordinated through the database
(``jobs``; its tables ``tables``, the models it keeps ``tuned``), the command line
(``cli``), and the teacher code's back-off (``lockout``)."""
