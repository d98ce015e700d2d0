"""Reading studies with their exact geometry, and the file-level helpers every stage shares (atomic writes, case ids).

What a prediction is written as lives in ``medseg.outputs``.
"""
