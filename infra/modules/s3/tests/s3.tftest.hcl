mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  # Known ARNs at plan time, so policies that name them can be checked without an apply.
  mock_resource "aws_s3_bucket" {
    override_during = plan
    defaults        = { arn = "arn:aws:s3:::mocked-bucket" }
  }
}

variables {
  instance_name = "mht-api"
  environment   = "staging"
}

run "names_follow_the_white_label_pattern" {
  command = plan

  assert {
    condition     = can(regex("^mht-api-staging-data-collection-[0-9a-f]{8}$", aws_s3_bucket.this.bucket))
    error_message = "The bucket must be {instance}-{env}-{suffix}-{random}, got ${aws_s3_bucket.this.bucket}."
  }
  assert {
    condition     = aws_s3_bucket.logs[0].bucket == replace(aws_s3_bucket.this.bucket, "data-collection-", "data-collection-logs-")
    error_message = "The log bucket must be {instance}-{env}-{suffix}-logs-{random}."
  }
}

run "the_random_part_differs_between_environments" {
  command = plan
  variables {
    environment = "production"
  }
  assert {
    condition     = can(regex("^mht-api-production-data-collection-[0-9a-f]{8}$", aws_s3_bucket.this.bucket))
    error_message = "Production's bucket must carry production in its name."
  }
}

run "private_versioned_encrypted" {
  command = plan

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every public access must be blocked."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on by default."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "Default encryption must be AES256."
  }
  assert {
    condition     = strcontains(aws_s3_bucket_policy.this[0].policy, "aws:SecureTransport")
    error_message = "The bucket policy must refuse plain HTTP."
  }
}

run "kms_encryption_when_asked" {
  command = plan
  variables {
    sse_algorithm = "aws:kms"
    kms_key_arn   = "arn:aws:kms:us-west-2:123456789012:key/abc"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == "arn:aws:kms:us-west-2:123456789012:key/abc"
    error_message = "The KMS key must be used."
  }
}

run "lifecycle_days_are_the_ones_given" {
  command = plan
  variables {
    lifecycle_transitions = [
      { days = 30, storage_class = "STANDARD_IA" },
      { days = 60, storage_class = "GLACIER" },
      { days = 150, storage_class = "DEEP_ARCHIVE" },
    ]
    access_log_retention_days = 14
  }
  assert {
    condition = toset([for t in aws_s3_bucket_lifecycle_configuration.this[0].rule[0].transition : "${t.days}:${t.storage_class}"]) == toset([
      "30:STANDARD_IA", "60:GLACIER", "150:DEEP_ARCHIVE",
    ])
    error_message = "The transitions must be exactly the ones given."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this[0].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 7
    error_message = "Abandoned multipart uploads must be aborted after 7 days."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this[0].rule[1].filter[0].prefix == "_conveyor/staging/"
    error_message = "The files API's staging area must expire."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this[0].rule[2].filter[0].prefix == "_conveyor/idempotency/" && aws_s3_bucket_lifecycle_configuration.this[0].rule[2].expiration[0].days == 2
    error_message = "Old Idempotency-Key records must expire."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this[0].rule[3].filter[0].prefix == "_conveyor/jobs/" && aws_s3_bucket_lifecycle_configuration.this[0].rule[3].expiration[0].days == 30
    error_message = "Job marks must expire, after the queues' longest retention."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.logs[0].rule[0].expiration[0].days == 14
    error_message = "Access logs must expire after access_log_retention_days."
  }
}

# The seeds' staging schedule (IA at 7 days, Glacier at 14, Deep Archive at 30) is refused by S3;
# the module refuses it first, with the reason.
run "s3_refuses_ia_before_day_30" {
  command = plan
  variables {
    lifecycle_transitions = [
      { days = 7, storage_class = "STANDARD_IA" },
      { days = 14, storage_class = "GLACIER" },
      { days = 30, storage_class = "DEEP_ARCHIVE" },
    ]
  }
  expect_failures = [var.lifecycle_transitions]
}

run "deep_archive_needs_90_days_in_glacier" {
  command = plan
  variables {
    lifecycle_transitions = [
      { days = 30, storage_class = "GLACIER" },
      { days = 60, storage_class = "DEEP_ARCHIVE" },
    ]
  }
  expect_failures = [var.lifecycle_transitions]
}

run "optional_parts_are_off_by_default" {
  command = plan
  assert {
    condition     = length(aws_s3_bucket_intelligent_tiering_configuration.this) == 0 && length(aws_s3_bucket_cors_configuration.this) == 0 && length(aws_glue_catalog_table.records) == 0 && length([for r in aws_s3_bucket_lifecycle_configuration.this[0].rule : r if startswith(r.id, "conveyor-records-")]) == 0
    error_message = "Intelligent tiering, CORS, the Athena tables and record expiry must be opt-in."
  }
}

run "athena_tables_project_the_partitions_conveyor_writes" {
  command = plan
  variables {
    create_athena_tables   = true
    athena_event_columns   = [{ name = "plan", type = "string" }]
    record_expiration_days = 90
  }
  assert {
    condition     = [for k in aws_glue_catalog_table.records["results"].partition_keys : k.name] == ["queue_name", "year", "month", "day", "hour"]
    error_message = "The results table must be partitioned by queue, year, month, day and hour, in that order."
  }
  assert {
    condition     = [for k in aws_glue_catalog_table.records["events"].partition_keys : k.name] == ["event_name", "year", "month", "day", "hour"]
    error_message = "The events table must be partitioned by event name, year, month, day and hour."
  }
  assert {
    condition     = endswith(aws_glue_catalog_table.records["results"].parameters["storage.location.template"], "/results/$${queue_name}/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/")
    error_message = "Partition projection must follow the results/{queue}/year=…/hour=…/ layout."
  }
  assert {
    condition     = endswith(aws_glue_catalog_table.records["events"].parameters["storage.location.template"], "/events/$${event_name}/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/")
    error_message = "Partition projection must follow the events/{name}/year=…/hour=…/ layout."
  }
  assert {
    condition     = aws_glue_catalog_table.records["events"].parameters["projection.year.range"] == "1970,9999"
    error_message = "Events carry their own time: the API accepts 1970 to 9999."
  }
  assert {
    condition     = [for c in aws_glue_catalog_table.records["events"].storage_descriptor[0].columns : c.name][6] == "plan"
    error_message = "The configured typed columns follow the events table's fixed ones."
  }
  assert {
    condition     = aws_glue_catalog_table.records["results_compacted"].storage_descriptor[0].ser_de_info[0].serialization_library == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    error_message = "Compacted results are Parquet."
  }
  assert {
    condition     = aws_glue_catalog_database.this[0].name == "mht_api_staging_data_collection"
    error_message = "The Glue database name must be the white-label name with underscores."
  }
  assert {
    condition     = toset([for r in aws_s3_bucket_lifecycle_configuration.this[0].rule : r.filter[0].prefix if startswith(r.id, "conveyor-records-")]) == toset(["events/", "results/", "results_compacted/"])
    error_message = "Records expire under events/, results/ and results_compacted/."
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this[0].rule : r.expiration[0].days == 90 if startswith(r.id, "conveyor-records-")])
    error_message = "Records expire after record_expiration_days."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}

run "a_bucket_named_outright" {
  command = plan
  variables {
    instance_name = "snsd"
    environment   = "production"
    bucket_suffix = "file-uploads"
    bucket_name   = "snsd-file-uploads-production"
  }
  assert {
    condition     = aws_s3_bucket.this.bucket == "snsd-file-uploads-production" && aws_s3_bucket.logs[0].bucket == "snsd-file-uploads-production-logs"
    error_message = "SnSD's names: the bucket as given, its logs bucket beside it."
  }
}

run "a_bucket_name_s3_would_refuse" {
  command = plan
  variables {
    bucket_name = "Uploads_Bucket"
  }
  expect_failures = [var.bucket_name]
}
