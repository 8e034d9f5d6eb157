"""evaluate: leave-one-dataset-out evaluation of the recommenders. Each dataset's runs are hidden in
turn; every method chooses a config for it, scored in lookup mode (every config's result is in a
table) or train mode (every choice is trained), and the methods are ranked and reported (console,
W&B run, W&B Report). Extension point: an evaluate method (`evaluate.methods`: a `Method` in
methods/base.py, one module per method, the registry in methods/__init__.py).
"""
