"""Accuracy stage: the simple-evals GPQA protocol, its sampler, dataset and reports."""
