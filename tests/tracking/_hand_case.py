"""A small sequence whose metrics are worked out by hand in the tests.

Object 1 is visible in frames 1-6, object 2 in frames 1-6. The tracker follows object 1 with id 1 in frames
1, 2 and 4, misses it in frame 3 (where it reports a false positive, id 7, far from both), and follows it
with id 2 in frames 5 and 6; it never finds object 2.
"""

from ._mot_cases import rows

GT = rows([(f, 1, 0, 0, 10, 10, 1, 1, 1.0) for f in range(1, 7)] + [(f, 2, 50, 0, 10, 10, 1, 1, 1.0) for f in range(1, 7)],
          kind="gt")
TRACKER = rows([(1, 1, 0, 0, 10, 10), (2, 1, 0, 0, 10, 10), (3, 7, 200, 0, 10, 10), (4, 1, 0, 0, 10, 10), (5, 2, 0, 0, 10, 10),
                (6, 2, 0, 0, 10, 10)])
NUM_FRAMES = 6
