#!/usr/bin/env bash
# Start-up time of `venvslim slim --zip-pure` against the default output, on a READ-ONLY mount:
# benches/startup.sh in its --zip mode (read it for the harness).
#
#   sudo benches/zip_startup.sh VENV [MODULE...]
exec "$(dirname "${BASH_SOURCE[0]}")/startup.sh" --zip "$@"
