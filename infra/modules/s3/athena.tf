# Athena over what Conveyor writes, the same tables `conveyor athena ddl` prints
# (infra/scripts/athena_check.py compares the two in CI):
#   events/{name}/year=YYYY/month=MM/day=DD/hour=HH/*.parquet   analytics events, by event time
#   results/{queue}/year=…/hour=…/{message_id}.json               one record per processed message
#   results_compacted/{queue}/year=…/hour=…/*.parquet             the same, rolled up per hour
# Partition projection spares a crawler and MSCK REPAIR: Athena computes the partitions. Event
# names and queues are injected: a query names them (WHERE event_name = 'open' AND year = 2026).

locals {
  glue_database_name = replace("${var.instance_name}_${var.environment}_${var.bucket_suffix}", "-", "_")

  result_columns = [
    ["message_id", "string"], ["queue", "string"], ["status", "string"], ["handler", "string"],
    ["sent_timestamp", "bigint"], ["started_timestamp", "bigint"], ["processed_timestamp", "bigint"],
    ["receive_count", "int"], ["group_id", "string"], ["body_bytes", "bigint"], ["body", "string"],
    ["output", "string"],
  ]
  event_columns = concat([
    ["event_id", "string"], ["name", "string"], ["user_id", "string"], ["timestamp", "timestamp"],
    ["received_at", "timestamp"], ["properties", "string"],
  ], [for c in var.athena_event_columns : [c.name, c.type]])

  parquet = {
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    serde         = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
  }
  json = {
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    serde         = "org.openx.data.jsonserde.JsonSerDe"
  }

  athena_tables = {
    events            = { prefix = "events", key = "event_name", years = "1970,9999", columns = local.event_columns, format = local.parquet, classification = "parquet", description = "Analytics events, one row each, partitioned by event name and event hour; deduplicate on event_id." }
    results           = { prefix = "results", key = "queue_name", years = "2024,2100", columns = local.result_columns, format = local.json, classification = "json", description = "One JSON record per processed message, partitioned by queue and sent hour." }
    results_compacted = { prefix = "results_compacted", key = "queue_name", years = "2024,2100", columns = local.result_columns, format = local.parquet, classification = "parquet", description = "The results of past hours rolled into Parquet by conveyor compact results." }
  }
}

resource "aws_glue_catalog_database" "this" {
  count       = var.create_athena_tables ? 1 : 0
  name        = local.glue_database_name
  description = "Conveyor records of ${var.instance_name} ${var.environment}"
  tags        = local.tags
}

resource "aws_glue_catalog_table" "records" {
  for_each      = var.create_athena_tables ? local.athena_tables : {}
  name          = each.key
  database_name = aws_glue_catalog_database.this[0].name
  table_type    = "EXTERNAL_TABLE"
  description   = each.value.description

  parameters = {
    "classification"                    = each.value.classification
    "projection.enabled"                = "true"
    "projection.${each.value.key}.type" = "injected"
    "projection.year.type"              = "integer"
    "projection.year.range"             = each.value.years
    "projection.month.type"             = "integer"
    "projection.month.range"            = "1,12"
    "projection.month.digits"           = "2"
    "projection.day.type"               = "integer"
    "projection.day.range"              = "1,31"
    "projection.day.digits"             = "2"
    "projection.hour.type"              = "integer"
    "projection.hour.range"             = "0,23"
    "projection.hour.digits"            = "2"
    "storage.location.template"         = "s3://${aws_s3_bucket.this.bucket}/${each.value.prefix}/$${${each.value.key}}/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/"
  }

  # A list, not a map: the partition keys keep this order.
  dynamic "partition_keys" {
    for_each = [[each.value.key, "string"], ["year", "int"], ["month", "int"], ["day", "int"], ["hour", "int"]]
    content {
      name = partition_keys.value[0]
      type = partition_keys.value[1]
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.this.bucket}/${each.value.prefix}/"
    input_format  = each.value.format.input_format
    output_format = each.value.format.output_format

    ser_de_info {
      serialization_library = each.value.format.serde
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

# The results table was once a resource of its own: keep it in place, not destroyed and recreated.
moved {
  from = aws_glue_catalog_table.results[0]
  to   = aws_glue_catalog_table.records["results"]
}
