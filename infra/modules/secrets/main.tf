resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.name}-secrets"
  description             = "Conveyor secrets of ${var.name}: ${join(", ", var.secret_keys)}"
  kms_key_id              = var.kms_key_id
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

# Empty placeholders only: real values never pass through Terraform state. ECS refuses to start
# a task whose secret key is missing, so every key exists from the start, and empty is safe:
# Conveyor refuses to listen without API keys, and leaves the files API off without a JWT secret.
resource "aws_secretsmanager_secret_version" "placeholder" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({ for k in var.secret_keys : k => "" })

  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
}
