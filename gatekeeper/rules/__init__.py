"""Pure rules: number normalisation, the metadata's ranges, the decision policy. No I/O."""
