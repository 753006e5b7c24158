//! The analytics pipeline's writing side: events as Parquet files under Athena partitions.

pub mod parquet;
