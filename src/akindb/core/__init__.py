"""Pure numpy kernels: validation, normalisation, exact scores and top-k. No IO."""
