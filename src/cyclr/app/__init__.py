"""The application layer: datasets, models, training loops and reports (uses the adapters)."""
