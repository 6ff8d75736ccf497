"""Scripts copied into containers and run there: Python 3.5 syntax, stdlib only.

The host imports their constants (the result marker, the RPATH placeholder) but runs none of their code.
relocate.py runs alone in its container, so it carries its own copy of the probe's marker;
tests/test_layout.py checks the two are equal.
"""
