"""Numbers about labels and runs: imbalance statistics and class weights, evaluation metrics, the review of a run's
mistakes and the comparison of runs. numpy and scikit-learn only (no torch); reads run records through
:mod:`core.catalog`.
"""
