#!/bin/sh
# Captures the first GTP-C datagrams a real sgsnemu (osmo-ggsn 1.9.0) sends to 127.0.0.1:2123:
# an Echo Request, then a Create PDP Context Request with its default options.
set -e
dir=$(mktemp -d)
python3 "$(dirname "$0")/capture_sgsnemu.py" > "$dir/cap.out" &
sleep 0.5
timeout -s KILL 5 sgsnemu -l 127.0.0.2 -r 127.0.0.1 --statedir "$dir" --pidfile "$dir/pid" >/dev/null 2>&1 || true
wait
cat "$dir/cap.out"   # lines: (addr, port) hex; 1st -> sgsnemu_echo_request.hex, 2nd -> sgsnemu_create_pdp_request.hex
