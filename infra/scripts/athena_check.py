"""Check that the Glue tables Terraform creates are the tables `conveyor athena ddl` prints for
the same environment, and that the bucket expires records after the environment's
record_retention. The DDL is parsed with sqlglot (Athena's dialect); for each table the columns
(names, types, order), partition keys, storage format, location and every projection property
must match. A value Terraform only knows after apply (the bucket's random part) is compared
without the bucket. Usage: athena_check.py TERRAFORM_JSON DDL_SQL CONFIG_TOML, where
TERRAFORM_JSON is `terraform show -json` of a plan or of a state, and CONFIG_TOML the output of
`conveyor config check`."""

import json
import re
import sys
import tomllib

import sqlglot
from sqlglot import exp

FORMATS = {
    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe": "parquet",
    "org.openx.data.jsonserde.JsonSerDe": "json",
}


def resources(module: dict, kind: str):
    for r in module.get("resources", []):
        if r["type"] == kind:
            yield r["values"]
    for child in module.get("child_modules", []):
        yield from resources(child, kind)


def root(document: dict) -> dict:
    if "planned_values" in document:
        return document["planned_values"]["root_module"]
    return document["values"]["root_module"]


def ddl_tables(text: str) -> dict:
    tables = {}
    for statement in sqlglot.parse(text, read="athena"):
        if not isinstance(statement, exp.Create) or statement.kind != "TABLE":
            continue
        schema = statement.this
        table = {
            "columns": [(c.name, c.kind.sql(dialect="hive").lower()) for c in schema.expressions],
            "partition_keys": [],
            "format": None,
            "location": None,
            "parameters": {},
        }
        for p in statement.args["properties"].expressions:
            if isinstance(p, exp.PartitionedByProperty):
                table["partition_keys"] = [
                    (c.name, c.kind.sql(dialect="hive").lower()) for c in p.this.expressions
                ]
            elif isinstance(p, exp.FileFormatProperty) and isinstance(p.this, exp.InputOutputFormat):
                # STORED AS INPUTFORMAT … OUTPUTFORMAT …: the serde says what the rows are.
                table["io"] = (p.this.args["input_format"].name, p.this.args["output_format"].name)
            elif isinstance(p, exp.FileFormatProperty):
                table["format"] = p.this.name.lower()
            elif isinstance(p, exp.RowFormatSerdeProperty):
                table["format"] = FORMATS.get(p.this.name, p.this.name)
            elif isinstance(p, exp.LocationProperty):
                table["location"] = p.this.name
            elif isinstance(p, exp.Property) and isinstance(p.this, exp.Literal):
                table["parameters"][p.this.name] = p.args["value"].name
        tables[schema.this.name] = table
    return tables


def glue_tables(document: dict) -> dict:
    tables = {}
    for t in resources(root(document), "aws_glue_catalog_table"):
        sd = t["storage_descriptor"][0]
        parameters = dict(t.get("parameters") or {})
        parameters.pop("classification", None)
        tables[t["name"]] = {
            "columns": [(c["name"], c["type"]) for c in sd["columns"]],
            "partition_keys": [(k["name"], k["type"]) for k in t["partition_keys"]],
            "format": FORMATS.get(sd["ser_de_info"][0]["serialization_library"]),
            "location": sd.get("location"),
            "parameters": parameters,
            "io": (sd["input_format"], sd["output_format"]),
        }
    return tables


def without_bucket(value: str) -> str:
    return re.sub(r"^s3://[^/]+/", "s3://BUCKET/", value)


def compare(name: str, want: dict, got: dict, problems: list) -> None:
    for field in ("columns", "partition_keys", "format"):
        if want[field] != got[field]:
            problems.append(f"{name}.{field}: conveyor athena ddl has {want[field]}, Terraform {got[field]}")
    if "io" in want and want["io"] != got["io"]:
        problems.append(f"{name} input/output formats: conveyor athena ddl has {want['io']}, Terraform {got['io']}")
    pairs = [("location", want["location"], got["location"])]
    for key in sorted(want["parameters"].keys() | got["parameters"].keys()):
        if key not in got["parameters"] and key == "storage.location.template" and "storage.location.template" in want["parameters"]:
            # Unknown until apply: the plan leaves it out.
            continue
        pairs.append((key, want["parameters"].get(key), got["parameters"].get(key)))
    for key, a, b in pairs:
        if b is None and key == "location":
            continue
        if a is None or b is None or without_bucket(a) != without_bucket(b):
            problems.append(f"{name} {key}: conveyor athena ddl has {a!r}, Terraform {b!r}")


def main() -> int:
    document = json.load(open(sys.argv[1]))
    wanted = ddl_tables(open(sys.argv[2]).read())
    config = tomllib.loads(open(sys.argv[3]).read())
    got = glue_tables(document)
    problems = []
    for name in sorted(wanted.keys() | got.keys()):
        if name not in got:
            problems.append(f"{name}: conveyor athena ddl creates it, Terraform does not")
        elif name not in wanted:
            problems.append(f"{name}: Terraform creates it, conveyor athena ddl does not")
        else:
            compare(name, wanted[name], got[name], problems)

    retention = config.get("record_retention")
    want_days = int(retention.rstrip("d")) if retention else 0
    expiring = {}
    for lifecycle in resources(root(document), "aws_s3_bucket_lifecycle_configuration"):
        for rule in lifecycle.get("rule", []):
            if rule["id"].startswith("conveyor-records-"):
                expiring[rule["filter"][0]["prefix"]] = rule["expiration"][0]["days"]
    want = {p: want_days for p in ("events/", "results/", "results_compacted/")} if want_days else {}
    if expiring != want:
        problems.append(
            f"record expiry: config/conveyor.toml's record_retention is {retention or 'unset'}, the bucket's rules expire {expiring or 'nothing'}"
        )

    for p in problems:
        print(f"athena: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"   {len(wanted)} Athena tables and the {want_days}-day record expiry agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
