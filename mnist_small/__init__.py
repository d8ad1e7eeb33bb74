"""mnist_small: compact MNIST CNNs to train, inspect and draw digits for.

The package never imports streamlit, so everything here works from plain Python and pytest.
"""

__version__ = "0.1.0"
