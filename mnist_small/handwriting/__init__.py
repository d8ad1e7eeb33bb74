"""Digits drawn as on the canvas: real pen-written trajectories (``pen``, UCI pendigits), drawn
with the canvas's brush and distorted (``render``), and MNIST's test digits re-drawn that way
(``drawn``), each cached on disk."""
