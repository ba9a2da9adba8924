"""trackbridge.storage: DynamoDB repositories over boto3, with explicit item <-> domain mapping.

Every repository takes a :class:`~trackbridge.storage.table.Table` (a boto3 client and a table name, built
by the composition root in ``trackbridge.runtime``) and the tenant as the first argument of every call.
Keys come from ``keys.py``; access patterns are listed in ``README.md``.
"""
