# Sourced, not run: points Terraform at this machine's filesystem mirror of the hashicorp/aws
# provider, so `terraform init` never reaches for the network (there is none in CI).
# Exports TF_CLI_CONFIG_FILE; returns non-zero with a message when terraform or the mirror is
# missing, so the infra step fails loudly instead of passing silently.

infra_cli_config() {
    if ! command -v terraform >/dev/null; then
        echo "error: terraform is not installed; the infra checks need Terraform >= 1.7 (see infra/README.md)" >&2
        return 1
    fi
    local provider_dir mirror
    provider_dir="${CONVEYOR_TF_PROVIDER_MIRROR:-}"
    if [ -z "$provider_dir" ]; then
        provider_dir="$(find / -maxdepth 5 -type d -path '*registry.terraform.io/hashicorp/aws' -print -quit 2>/dev/null || true)"
    fi
    # Unpacked (5.100.0/linux_amd64/) or packed (terraform-provider-aws_5.100.0_linux_amd64.zip).
    if [ -z "$provider_dir" ] || [ -z "$(find "$provider_dir" -maxdepth 1 \( -name '5.*' -o -name '*_5.*' \) -print -quit)" ]; then
        echo "error: no filesystem mirror of the hashicorp/aws 5.x provider was found (looked for */registry.terraform.io/hashicorp/aws within 5 levels of /; set CONVEYOR_TF_PROVIDER_MIRROR to its directory)" >&2
        return 1
    fi
    # The mirror root is the directory that holds registry.terraform.io/.
    mirror="${provider_dir%/registry.terraform.io/hashicorp/aws}"
    local dir
    dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.terraform.d"
    mkdir -p "$dir"
    cat >"$dir/cli.tfrc" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
CONFIG
    export TF_CLI_CONFIG_FILE="$dir/cli.tfrc"
    export TF_IN_AUTOMATION=1
    export CHECKPOINT_DISABLE=1
    echo "terraform $(terraform version | head -n 1 | cut -d' ' -f2), aws provider mirror at $mirror"
}
