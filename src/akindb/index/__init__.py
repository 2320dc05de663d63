"""Vector indexes behind one protocol: flat (exact, the oracle) and approximate kinds."""
