"""Metrics of the tasks: classification, tagging (entity-level, via seqeval), forecasting."""
