"""Landmarks, dataset export, the U-Net, training and prediction (not built yet)."""
