#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Seeded random operations against a reference model (model.py).
# SEED and STEPS may be set in the environment; the seed is printed.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3
trap cleanup_all EXIT
make_disks 4 64
write_random $ORIGIN_DEV 0 4096
python3 "$(dirname "$0")/lib/model.py" "${SEED:-$RANDOM$RANDOM}" "${STEPS:-300}" \
	"$ORIGIN_DEV" "$STORE_DEV" $((4 * 1024 * 1024))
