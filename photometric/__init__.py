"""Photometric stereo for the portrait booth: the physics, on arrays alone.

Reading order: ``render`` (the forward model) -> ``synthetic`` (subjects with ground truth)
-> ``calibrate`` (white sphere) -> ``stereo`` (normals from a capture) -> ``normalmap`` (I/O).
This package imports none of the project's other packages.
"""
