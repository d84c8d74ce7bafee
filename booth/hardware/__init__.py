"""Hardware adapters: the flash controller link, the camera (libgphoto2), the simulated
booth."""
