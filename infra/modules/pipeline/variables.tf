variable "name" {
  description = "The pipeline's name, and the prefix of its builds, roles and artifact bucket."
  type        = string
}

variable "repository" {
  description = "The GitHub repository, owner/name."
  type        = string
}

variable "branch" {
  description = "The branch whose pushes start the pipeline."
  type        = string
  default     = "main"
}

variable "connection_arn" {
  description = "An existing CodeStar connection to GitHub; empty: the module creates one (it stays PENDING until someone completes the handshake in the console once)."
  type        = string
  default     = ""
}

variable "images" {
  description = "Every image the build makes and pushes, by name: its ECR repository URL and ARN, its Dockerfile and build context (paths in the repository)."
  type = map(object({
    repository_url = string
    repository_arn = string
    dockerfile     = string
    context        = optional(string, ".")
  }))
}

variable "lambda_functions" {
  description = "Functions the deploy stage points at their new image: function name = image name."
  type        = map(string)
  default     = {}
}

variable "apprunner_services" {
  description = "App Runner services the deploy stage updates, by name: { arn, image (a name in images), port }."
  type = map(object({
    arn   = string
    image = string
    port  = number
  }))
  default = {}
}

variable "apprunner_access_role_arn" {
  description = "The role App Runner pulls images with (the apprunner module's access_role_arn); needed with apprunner_services."
  type        = string
  default     = ""
}

variable "ec2_deployment" {
  description = "CodeDeploy to EC2: the instances with this Name tag value get the build (its appspec.yml); null: no EC2 stage."
  type = object({
    instance_names = list(string)
  })
  default = null
}

variable "require_approval" {
  description = "Stop for a manual approval before deploying (production)."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Let terraform delete the artifact bucket with objects in it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
