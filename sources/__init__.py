"""Readers for the region's source files, reference data and the synthetic region."""
