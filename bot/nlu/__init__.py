"""NLU graph components chosen by measurement (see docs/nlu-pipeline.md)."""
