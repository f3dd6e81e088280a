"""Customer satisfaction: the rating prompt after a resolution, its reminder and expiry, the
low-rating alert, opt-outs, and the numbers."""
