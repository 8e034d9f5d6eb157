"""The recommend feature: meta-features -> similar experiments -> prompt -> LLM (or the meta-learner
alone) -> one validated config with its explanation, judge scores and evidence, logged as a W&B run
and optionally launched. `command` and `rejudge` are the bodies of the `recommend` and `judge`
commands; `pipeline` is the flow; `record` the Recommendation it produces.
"""
