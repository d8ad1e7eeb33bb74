"""The tabs, one module each: ``show`` receives what it needs (views.context.Context) and draws
its tab; Draw returns what the other tabs read."""
