"""Bundle templates for ``medseg bundle new``: ``planar`` (2D) and ``volume`` (3D) configs and docs."""
