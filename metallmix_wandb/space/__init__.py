"""The search space: one W&B sweep YAML, parsed once (spec, parse), checked, snapped, sampled and
enumerated (values, search_space), and turned into the meta-learner's argmax candidates (candidates).
Every feature that proposes or validates a config uses this one model, so they cannot drift apart."""
