# The seed's delivery: GitHub (through a CodeStar connection) -> CodeBuild builds and pushes
# every image (buildspec.yml) -> deploy: CodeBuild points the Lambda functions at their new
# images and updates the App Runner services (deployspec.yml), CodeDeploy updates the EC2
# instances. Artifacts in an encrypted, private bucket; each role may do only its stage's work.

locals {
  connection_arn  = var.connection_arn != "" ? var.connection_arn : aws_codestarconnections_connection.github[0].arn
  deploys_code    = length(var.lambda_functions) > 0 || length(var.apprunner_services) > 0
  repository_arns = distinct([for i in values(var.images) : i.repository_arn])
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_codestarconnections_connection" "github" {
  count         = var.connection_arn == "" ? 1 : 0
  name          = substr(var.name, 0, 32)
  provider_type = "GitHub"
  tags          = var.tags
}

# ---- artifacts ---------------------------------------------------------------------------------

resource "aws_s3_bucket" "artifacts" {
  bucket_prefix = substr("${var.name}-artifacts-", 0, 37)
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    id     = "old-artifacts"
    status = "Enabled"
    filter {}
    expiration {
      days = 30
    }
  }
}

# ---- roles -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  for_each = toset(["codepipeline", "codebuild", "codedeploy"])
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = "${var.name}-pipeline"
  assume_role_policy = data.aws_iam_policy_document.assume["codepipeline"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
  }
  statement {
    sid       = "Source"
    actions   = ["codestar-connections:UseConnection"]
    resources = [local.connection_arn]
  }
  statement {
    sid       = "Builds"
    actions   = ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    resources = concat([aws_codebuild_project.build.arn], [for p in aws_codebuild_project.deploy : p.arn])
  }
  dynamic "statement" {
    for_each = var.ec2_deployment == null ? [] : [1]
    content {
      sid       = "Deploy"
      actions   = ["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentConfig", "codedeploy:GetApplication", "codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "stages"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_iam_role" "build" {
  name               = "${var.name}-codebuild"
  assume_role_policy = data.aws_iam_policy_document.assume["codebuild"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "build" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/codebuild/${var.name}-*"]
  }
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]
  }
  statement {
    sid       = "Login"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PushImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = local.repository_arns
  }
  dynamic "statement" {
    for_each = length(var.lambda_functions) > 0 ? [1] : []
    content {
      sid       = "UpdateFunctions"
      actions   = ["lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:GetFunctionConfiguration"]
      resources = [for f in keys(var.lambda_functions) : "arn:aws:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${f}"]
    }
  }
  dynamic "statement" {
    for_each = length(var.apprunner_services) > 0 ? [1] : []
    content {
      sid       = "UpdateServices"
      actions   = ["apprunner:UpdateService", "apprunner:DescribeService"]
      resources = [for svc in values(var.apprunner_services) : svc.arn]
    }
  }
  dynamic "statement" {
    for_each = length(var.apprunner_services) > 0 ? [1] : []
    content {
      sid       = "PassAccessRole"
      actions   = ["iam:PassRole"]
      resources = [var.apprunner_access_role_arn]
    }
  }
}

resource "aws_iam_role_policy" "build" {
  name   = "build-push-deploy"
  role   = aws_iam_role.build.id
  policy = data.aws_iam_policy_document.build.json
}

# ---- builds ------------------------------------------------------------------------------------

resource "aws_codebuild_project" "build" {
  name         = "${var.name}-build"
  service_role = aws_iam_role.build.arn

  artifacts {
    type = "CODEPIPELINE"
  }
  source {
    type      = "CODEPIPELINE"
    buildspec = file("${path.module}/buildspec.yml")
  }
  environment {
    type            = "LINUX_CONTAINER"
    compute_type    = "BUILD_GENERAL1_MEDIUM"
    image           = "aws/codebuild/standard:7.0"
    privileged_mode = true # docker build
    environment_variable {
      name  = "IMAGES"
      value = jsonencode({ for n, i in var.images : n => { repository_url = i.repository_url, dockerfile = i.dockerfile, context = i.context } })
    }
  }
  tags = var.tags
}

resource "aws_codebuild_project" "deploy" {
  for_each     = local.deploys_code ? { deploy = true } : {}
  name         = "${var.name}-deploy"
  service_role = aws_iam_role.build.arn

  artifacts {
    type = "CODEPIPELINE"
  }
  source {
    type      = "CODEPIPELINE"
    buildspec = file("${path.module}/deployspec.yml")
  }
  environment {
    type         = "LINUX_CONTAINER"
    compute_type = "BUILD_GENERAL1_SMALL"
    image        = "aws/codebuild/standard:7.0"
    environment_variable {
      name  = "FUNCTIONS"
      value = jsonencode(var.lambda_functions)
    }
    environment_variable {
      name  = "SERVICES"
      value = jsonencode(var.apprunner_services)
    }
    environment_variable {
      name  = "APPRUNNER_ACCESS_ROLE"
      value = var.apprunner_access_role_arn
    }
  }
  tags = var.tags
}

# ---- CodeDeploy to EC2 -------------------------------------------------------------------------

resource "aws_iam_role" "deploy" {
  count              = var.ec2_deployment == null ? 0 : 1
  name               = "${var.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.assume["codedeploy"].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "deploy" {
  count      = var.ec2_deployment == null ? 0 : 1
  role       = aws_iam_role.deploy[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"
}

resource "aws_codedeploy_app" "ec2" {
  count            = var.ec2_deployment == null ? 0 : 1
  name             = var.name
  compute_platform = "Server"
  tags             = var.tags
}

resource "aws_codedeploy_deployment_group" "ec2" {
  count                  = var.ec2_deployment == null ? 0 : 1
  app_name               = aws_codedeploy_app.ec2[0].name
  deployment_group_name  = "${var.name}-ec2"
  service_role_arn       = aws_iam_role.deploy[0].arn
  deployment_config_name = "CodeDeployDefault.OneAtATime"

  dynamic "ec2_tag_set" {
    for_each = [1]
    content {
      dynamic "ec2_tag_filter" {
        for_each = var.ec2_deployment.instance_names
        content {
          key   = "Name"
          type  = "KEY_AND_VALUE"
          value = ec2_tag_filter.value
        }
      }
    }
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE"]
  }
  tags = var.tags
}

# ---- the pipeline ------------------------------------------------------------------------------

resource "aws_codepipeline" "this" {
  name     = var.name
  role_arn = aws_iam_role.pipeline.arn

  artifact_store {
    location = aws_s3_bucket.artifacts.bucket
    type     = "S3"
  }

  stage {
    name = "Source"
    action {
      name             = "GitHub"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["source"]
      configuration = {
        ConnectionArn    = local.connection_arn
        FullRepositoryId = var.repository
        BranchName       = var.branch
      }
    }
  }

  stage {
    name = "Build"
    action {
      name             = "Images"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      input_artifacts  = ["source"]
      output_artifacts = ["images"]
      configuration    = { ProjectName = aws_codebuild_project.build.name }
    }
  }

  dynamic "stage" {
    for_each = var.require_approval ? [1] : []
    content {
      name = "Approve"
      action {
        name     = "Release"
        category = "Approval"
        owner    = "AWS"
        provider = "Manual"
        version  = "1"
      }
    }
  }

  stage {
    name = "Deploy"
    dynamic "action" {
      for_each = local.deploys_code ? [1] : []
      content {
        name            = "FunctionsAndServices"
        category        = "Build"
        owner           = "AWS"
        provider        = "CodeBuild"
        version         = "1"
        input_artifacts = ["images"]
        configuration   = { ProjectName = aws_codebuild_project.deploy["deploy"].name }
      }
    }
    dynamic "action" {
      for_each = var.ec2_deployment == null ? [] : [1]
      content {
        name            = "Servers"
        category        = "Deploy"
        owner           = "AWS"
        provider        = "CodeDeploy"
        version         = "1"
        input_artifacts = ["images"]
        configuration = {
          ApplicationName     = aws_codedeploy_app.ec2[0].name
          DeploymentGroupName = aws_codedeploy_deployment_group.ec2[0].deployment_group_name
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.deploys_code || var.ec2_deployment != null
      error_message = "The pipeline deploys nothing: give lambda_functions, apprunner_services or ec2_deployment."
    }
    precondition {
      condition     = length(var.apprunner_services) == 0 || var.apprunner_access_role_arn != ""
      error_message = "apprunner_services need apprunner_access_role_arn (the apprunner module's access_role_arn)."
    }
  }
}
