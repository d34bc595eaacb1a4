"""The kind rehearsal: three local kind clusters, one per site, on one Docker network.

``<site>.yaml`` are the cluster configs; :mod:`infra.kind.rehearsal` creates and deletes
the clusters, loads the image and runs ``pulumi up`` for the three stacks.
"""
