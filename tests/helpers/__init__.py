"""What the tests share: tiny stand-in models, replicas of real datasets, test programs, fixtures.

Tests and benchmarks import these as ``tests.helpers.<module>``; the product never does.
"""
