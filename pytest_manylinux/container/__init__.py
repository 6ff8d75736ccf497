"""Scripts copied into containers and run there: Python 3.5 syntax, stdlib only, never imported by the host code."""
