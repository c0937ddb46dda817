"""Module-level functions for the [py] tests."""


def add(a, b=0):
    return a + b


def greet(*args):
    return ["hello"] + list(args)


def nothing():
    return None


def pair(a=None, b=None):
    return [a, b]
