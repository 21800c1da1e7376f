"""Tests of the tracking wing (a package, so that test_zoo.py does not clash with the other wings')."""
