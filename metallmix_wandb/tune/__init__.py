"""`tune`: few-trial tuning that continues where `recommend` stops. Recommend's answer is trial 1; each
next trial is chosen by a proposer, trained (or looked up in a table of results) and summarised, until
the budget, the target or Ctrl-C. The extension point is the way the next trial is chosen:
`tune/proposers/` (a Proposer protocol, one module per way, a registry of names)."""
