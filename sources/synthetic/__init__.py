"""Seeded, deterministic generator of a synthetic Vårdval region (modelled on Region Dalarna).

    from sources.synthetic import generate_region
    generate_region(landing_dir, ["2025-01", "2025-02"], scale=1.0, seed=20250101)

scale 1 ≈ Dalarna (286 546 residents); above 1 the region is copied (scale 37 ≈ Sweden).
"""
from .generate import generate_region

__all__ = ["generate_region"]
