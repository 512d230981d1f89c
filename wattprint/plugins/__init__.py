"""Optional behaviour of a run, each imported only when its option is used.

``base.py`` is the contract (``Plugin``, ``Placement``); ``forecast.py`` predicts and checks
budgets, ``distributed/`` counts a multi-process job once, ``prometheus.py`` serves metrics.
"""
