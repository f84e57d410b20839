"""Scripts for the demo, the tests and CI: not part of the installed package."""
