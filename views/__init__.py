"""The app's views, one module per tab: each draws its tab from what it is given explicitly.

Layout and widgets only; every computation lives in the ``mnist_small`` package.
``sidebar`` is the model picker, ``context`` holds what the views share, ``resources`` the
cached loaders, ``style`` the CSS.
"""
