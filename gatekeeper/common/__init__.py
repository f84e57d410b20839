"""Small helpers shared by every package: clock, errors, untrusted text, logs."""
