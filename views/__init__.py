"""The app's views: ``tabs/`` holds one module per tab, each drawing its tab from what it is
given explicitly; beside them what the tabs share: ``sidebar`` (the model picker), ``context``
(what the views share, and the guard), ``resources`` (the cached loaders), ``style`` (the CSS and
the canvas's toolbar), ``submit`` (keeping a drawing in the class set), ``cookies``.

Layout and widgets only; every computation lives in the ``mnist_small`` package.
"""
