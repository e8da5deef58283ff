"""Population surveillance of dispensing records: one rule set (Ibis) run on DuckDB (default) or Spark.

Importing this package is cheap: the engines (ibis, duckdb, pyspark, pyarrow) are imported only by the
modules that need them, and they come from the optional extras `surveillance` and `spark`.
"""
