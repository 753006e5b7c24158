variable "name" {
  description = "Prefix of every name ({instance}-{env}): the secret is {name}-secrets."
  type        = string
}

variable "secret_keys" {
  description = "The JSON keys the secret holds. Terraform creates them empty and never reads or overwrites them afterwards: set the real values with `aws secretsmanager put-secret-value` (scripts/deploy-environment.sh says how)."
  type        = list(string)
  default     = ["jwt_secret", "api_keys"]
}

variable "kms_key_id" {
  description = "KMS key that encrypts the secret (null: the AWS-managed aws/secretsmanager key)."
  type        = string
  default     = null
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0: delete at once, for throwaway environments)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
