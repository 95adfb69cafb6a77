"""PySpark as the scale-out engine: the same narwhals queries, run by Spark.

Install with ``pip install 'usagekit[spark]'`` (needs a Java 17 runtime). Only small query
results come back to the driver.
"""

from __future__ import annotations

import narwhals as nw
import polars as pl

from .errors import UsagekitError

_SESSION = None


def local_session(cores: int = 2):
    """A local SparkSession tuned for small results: UTC session time, few shuffle partitions."""
    global _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsagekitError("the Spark engine needs PySpark: pip install 'usagekit[spark]' "
                            "(and a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless)") from None
    if _SESSION is None:
        try:
            _SESSION = (SparkSession.builder.master(f"local[{cores}]").appName("usagekit")
                        .config("spark.sql.session.timeZone", "UTC")
                        .config("spark.sql.shuffle.partitions", str(cores * 2))
                        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                        .config("spark.ui.enabled", "false")
                        .config("spark.driver.memory", "2g")
                        .getOrCreate())
        except Exception as exc:  # Java missing or failing to start
            raise UsagekitError(f"could not start a local Spark session ({exc}); is Java 17 installed? "
                                "Try: apt-get install openjdk-17-jre-headless") from None
    return _SESSION


def spark_frame(rows: pl.LazyFrame, session=None) -> nw.LazyFrame:
    """Hand the derived rows to Spark (through Arrow) as a narwhals LazyFrame."""
    session = session or local_session()
    table = rows.collect().to_arrow()
    return nw.from_native(session.createDataFrame(table))


def spark_cube(rows: nw.LazyFrame, cube: pl.DataFrame | None = None) -> nw.LazyFrame:
    """The month cube on Spark: built by Spark from its rows with the shared narwhals query
    (:func:`usagekit.queries.cube`) and cached, or handed over when already computed."""
    from . import queries as q
    if cube is not None:
        session = rows.to_native().sparkSession
        return nw.from_native(session.createDataFrame(cube.to_arrow()))
    return nw.from_native(q.cube(rows).to_native().cache())
