"""Training: the data, degradations and fitting behind facelens's learned parameters.

Offline code, like facelens/eval: it may import the runtime packages, and they never
import it (tests/test_import_boundaries.py). One module per trained model, plus what
they share (degrade.py: the synthetic degradations that make training data).
"""
