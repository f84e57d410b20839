"""Asterisk manager interface: the only place that talks AMI (through panoramisk)."""
