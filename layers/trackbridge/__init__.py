"""trackbridge: the shared package shipped to Lambda as a layer.

Layers, imports pointing one way only (enforced by tests/unit/test_layering.py)::

    functions -> runtime -> providers | storage -> domain
"""

__version__ = "0.1.0"
