"""One screen per task: pick a session, run it, add a subject, capture, calibrate, doctor."""
