"""Day-ahead consumption forecasts (numpy and scikit-learn: not in the shared layer's requirements)."""
