# Athena over what the workers write: results/{queue}/year=YYYY/month=MM/day=DD/hour=HH/{id}.json,
# one JSON record per processed message. Raw analytics events are the analytics queue's messages,
# so each is stored as results/analytics/…/{message_id}.json with the event as `body`.
# Partition projection spares a crawler and MSCK REPAIR: Athena computes the partitions.

locals {
  glue_database_name = replace("${var.instance_name}_${var.environment}_${var.bucket_suffix}", "-", "_")
  results_location   = "s3://${aws_s3_bucket.this.bucket}/results/"
}

resource "aws_glue_catalog_database" "this" {
  count       = var.create_athena_tables ? 1 : 0
  name        = local.glue_database_name
  description = "Conveyor records of ${var.instance_name} ${var.environment}"
  tags        = local.tags
}

resource "aws_glue_catalog_table" "results" {
  count         = var.create_athena_tables ? 1 : 0
  name          = "results"
  database_name = aws_glue_catalog_database.this[0].name
  table_type    = "EXTERNAL_TABLE"
  description   = "One row per processed message (analytics events included): query with WHERE queue_name = 'analytics' AND year = 2026 …"

  parameters = {
    "classification"             = "json"
    "projection.enabled"         = "true"
    "projection.queue_name.type" = "injected"
    "projection.year.type"       = "integer"
    "projection.year.range"      = "2024,2100"
    "projection.month.type"      = "integer"
    "projection.month.range"     = "1,12"
    "projection.month.digits"    = "2"
    "projection.day.type"        = "integer"
    "projection.day.range"       = "1,31"
    "projection.day.digits"      = "2"
    "projection.hour.type"       = "integer"
    "projection.hour.range"      = "0,23"
    "projection.hour.digits"     = "2"
    "storage.location.template"  = "${local.results_location}$${queue_name}/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/"
  }

  dynamic "partition_keys" {
    for_each = { queue_name = "string", year = "int", month = "int", day = "int", hour = "int" }
    content {
      name = partition_keys.key
      type = partition_keys.value
    }
  }

  storage_descriptor {
    location      = local.results_location
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
    }

    dynamic "columns" {
      for_each = [
        ["message_id", "string"], ["queue", "string"], ["status", "string"], ["handler", "string"],
        ["sent_timestamp", "bigint"], ["processed_timestamp", "bigint"], ["receive_count", "int"],
        ["group_id", "string"], ["body", "string"], ["output", "string"],
      ]
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}
