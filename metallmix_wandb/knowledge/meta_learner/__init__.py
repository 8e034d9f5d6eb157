"""The meta-learner: XGBoost models of a config's within-dataset percentile, raw metric and training
time from (meta-features, hyperparameters) (features, model), their leave-one-dataset-out quality
(quality), the TreeSHAP summary and digest (shap_summary), and the knowledge artifact that stores them
(artifact, explain, command)."""
