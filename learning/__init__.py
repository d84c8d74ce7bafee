"""Face Mesh landmarks, preprocessing and the dataset export; the U-Net (``model``), its
packed training data (``pack``, ``loader``), training (``train``) and metrics."""
