"""Imported first by the sweep's forkserver (:class:`workbench.sweep.launch.ForkLauncher`): it dies
with the sweep at once, and so, through their own parent-death signal, do the points it forked.

Without it a killed sweep's forkserver only exits when it next wakes up and finds its pipe
closed, and a point that ends in that moment writes its results after the sweep died.
"""

from workbench.children import die_with_parent

die_with_parent()
