"""Datasets: image sets from MedMNIST .npz files or class-per-folder directories (images), and the
meta-features that describe a dataset to the knowledge base and the meta-learner (meta_features)."""
