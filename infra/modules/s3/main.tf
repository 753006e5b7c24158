data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name_prefix = "${var.instance_name}-${var.environment}-${var.bucket_suffix}"
  # Bucket names are global across all AWS accounts. A hash of account, region and name is as
  # unguessable as a random id, but stable across applies and known at plan time, so plans can be
  # compared and checked (and no second provider is needed).
  random = coalesce(var.random_suffix, substr(sha256("${data.aws_caller_identity.current.account_id}/${data.aws_region.current.name}/${local.name_prefix}"), 0, 8))

  bucket_name     = coalesce(var.bucket_name, "${local.name_prefix}-${local.random}")
  log_bucket_name = var.bucket_name != null ? "${var.bucket_name}-logs" : "${local.name_prefix}-logs-${local.random}"

  tags = merge(var.tags, {
    "conveyor:instance"    = var.instance_name
    "conveyor:environment" = var.environment
  })
}

check "bucket_name_length" {
  assert {
    condition     = length(local.log_bucket_name) <= 63
    error_message = "The bucket name ${local.log_bucket_name} is longer than S3's 63 characters: shorten instance_name or bucket_suffix."
  }
}

# ---- the data bucket ----------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = var.versioning_enabled ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.sse_algorithm
      kms_master_key_id = var.sse_algorithm == "aws:kms" ? var.kms_key_arn : null
    }
    bucket_key_enabled = var.sse_algorithm == "aws:kms"
  }
}

# Objects travel over TLS only: presigned URLs included.
resource "aws_s3_bucket_policy" "this" {
  count  = var.require_tls ? 1 : 0
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count  = var.create_lifecycle_policy ? 1 : 0
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "tiering"
    status = "Enabled"
    filter {}

    dynamic "transition" {
      for_each = var.lifecycle_transitions
      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }

    dynamic "noncurrent_version_expiration" {
      for_each = var.noncurrent_version_expiration_days > 0 ? [1] : []
      content {
        noncurrent_days = var.noncurrent_version_expiration_days
      }
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "conveyor-staging-area"
    status = "Enabled"
    filter {
      prefix = "_conveyor/staging/"
    }
    expiration {
      days = var.staging_area_expiration_days
    }
  }

  rule {
    id     = "conveyor-idempotency-keys"
    status = "Enabled"
    filter {
      prefix = "_conveyor/idempotency/"
    }
    expiration {
      days = var.idempotency_key_expiration_days
    }
  }

  # Conveyor's records expire after the environment's record_retention (config/conveyor.toml),
  # which the local store's sweeper applies with the same days.
  dynamic "rule" {
    for_each = var.record_expiration_days > 0 ? ["events/", "results/", "results_compacted/"] : []
    content {
      id     = "conveyor-records-${trimsuffix(rule.value, "/")}"
      status = "Enabled"
      filter {
        prefix = rule.value
      }
      expiration {
        days = var.record_expiration_days
      }
    }
  }

  rule {
    id     = "conveyor-job-marks"
    status = "Enabled"
    filter {
      prefix = "_conveyor/jobs/"
    }
    expiration {
      days = var.job_mark_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_intelligent_tiering_configuration" "this" {
  count  = var.create_intelligent_tiering ? 1 : 0
  bucket = aws_s3_bucket.this.id
  name   = "archive"

  tiering {
    access_tier = "ARCHIVE_ACCESS"
    days        = var.intelligent_tiering_archive_days
  }
  tiering {
    access_tier = "DEEP_ARCHIVE_ACCESS"
    days        = var.intelligent_tiering_deep_archive_days
  }
}

resource "aws_s3_bucket_cors_configuration" "this" {
  count  = length(var.cors_rules) > 0 ? 1 : 0
  bucket = aws_s3_bucket.this.id

  dynamic "cors_rule" {
    for_each = var.cors_rules
    content {
      allowed_origins = cors_rule.value.allowed_origins
      allowed_methods = cors_rule.value.allowed_methods
      allowed_headers = cors_rule.value.allowed_headers
      expose_headers  = cors_rule.value.expose_headers
      max_age_seconds = cors_rule.value.max_age_seconds
    }
  }
}

# ---- the access-log bucket ----------------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  count         = var.create_access_log_bucket ? 1 : 0
  bucket        = local.log_bucket_name
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  count                   = var.create_access_log_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Server access logs can only be delivered to a bucket encrypted with S3-managed keys.
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.logs[0].arn}/access/*"
      Condition = {
        ArnLike      = { "aws:SourceArn" = aws_s3_bucket.this.arn }
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  count  = var.create_access_log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.create_access_log_bucket ? 1 : 0
  bucket        = aws_s3_bucket.this.id
  target_bucket = aws_s3_bucket.logs[0].id
  target_prefix = "access/"
  depends_on    = [aws_s3_bucket_policy.logs]
}
