#!/usr/bin/env bash
# Offline checks of template.yaml: cfn-lint and sam validate --lint (no AWS account).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
"$VENV/bin/cfn-lint" template.yaml
"$VENV/bin/sam" validate --lint --region "$AWS_DEFAULT_REGION"
