"""PySpark as the scale-out engine: the same narwhals queries, run by Spark.

Install with ``pip install 'usagekit[spark]'`` (needs a Java 17 runtime). Only small query
results come back to the driver.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

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
        raise UsagekitError(
            "the Spark engine needs PySpark: pip install 'usagekit[spark]' "
            "(and a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless)"
        ) from None
    if _SESSION is None:
        # the local workers run usagekit's checks of text files (usagekit.sources.spark_text):
        # with the driver's interpreter and packages unless PYSPARK_PYTHON names another
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        try:
            _SESSION = (
                SparkSession.builder.master(f"local[{cores}]")
                .appName("usagekit")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", str(cores * 2))
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", "2g")
                .getOrCreate()
            )
        except Exception as exc:  # Java missing or failing to start
            raise UsagekitError(
                f"could not start a local Spark session ({exc}); is Java 17 installed? "
                "Try: apt-get install openjdk-17-jre-headless"
            ) from None
    return _SESSION


def spark_frame(rows: pl.LazyFrame, session=None) -> nw.LazyFrame:
    """Hand the validated, derived rows to Spark as a narwhals LazyFrame.

    The rows are streamed into a Parquet file (removed at exit; ``USAGEKIT_SPARK_STAGING``
    names the directory, e.g. one every worker can read) and Spark scans that file itself:
    the driver never holds the rows in memory.
    """
    session = session or local_session()
    path = staging_dir() / "rows.parquet"
    rows.sink_parquet(path, compression="lz4")
    return nw.from_native(session.read.parquet(str(path)))


def staging_dir() -> Path:
    """A new private directory for rows handed to Spark (removed at exit), under
    ``USAGEKIT_SPARK_STAGING`` when set (on a cluster: a path the driver and every worker can
    read), else the system's temporary directory."""
    base = os.environ.get("USAGEKIT_SPARK_STAGING")
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="usagekit-spark-", dir=base))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp
