"""The feature store: feature views owned by a project, their latest values per entity online in
one of two tiers, and point-in-time training sets.

- ``spec``: a view as the request path sees it (no Django) and the binary codec of its values.
- ``redis``: the low-latency tier (one compact binary string per entity and view, expiring at
  event time + TTL; any number of entities and views read with one MGET).
- ``sql``: the low-cost tier (one table, ``serving_onlinefeature``, for every view; many
  entities read with one query).
- ``online``: reading rows of entities from whichever tier each view is on, with missing flags.
- ``materialize``, ``move``, ``training_sets``: the jobs.
"""
