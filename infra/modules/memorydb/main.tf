# MemoryDB for Redis in the private subnets, reachable only from the given security groups, with
# TLS in transit (MemoryDB requires it for Redis 7; set here so it is never switched off) and
# encryption at rest.

resource "aws_memorydb_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis ${var.name}: only from the client groups"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-redis" })
}

# count, not for_each: the client groups are usually created in the same plan (ids unknown).
resource "aws_vpc_security_group_ingress_rule" "clients" {
  count                        = length(var.client_security_group_ids)
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  description                  = "Redis from client group ${count.index + 1}"
}

resource "aws_memorydb_cluster" "this" {
  name                     = var.name
  node_type                = var.node_type
  engine_version           = var.engine_version
  num_shards               = var.num_shards
  num_replicas_per_shard   = var.num_replicas_per_shard
  port                     = var.port
  acl_name                 = "open-access"
  tls_enabled              = true
  subnet_group_name        = aws_memorydb_subnet_group.this.name
  security_group_ids       = [aws_security_group.this.id]
  snapshot_retention_limit = var.snapshot_retention_limit
  tags                     = var.tags
}
