"""Face Mesh landmarks, preprocessing and the dataset export (the U-Net, its training and
prediction are the next issue's)."""
