"""The bottom layer: what every package shares and that imports nothing of ours.

Settings, the warehouse connection and its `raw.*` DDL, month keys, the published tables'
names and keys, the fixed vocabularies, the indicator catalogue and the Swedish labels.
`sources`, `validations` and `orchestration` import from here; it imports none of them
(tests/test_layers.py).
"""
