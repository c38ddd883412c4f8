"""Light classifiers on stored features: head-only training runs and post-hoc adjustment of finished runs."""
