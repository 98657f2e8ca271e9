#!/bin/bash
# Container health check without curl: GET /healthz on the admin listener, using bash's /dev/tcp.
#   gatehouse-healthcheck [PORT]
# PORT defaults to the port of GATEHOUSE_ADMIN_LISTEN, else 9090 (deploy/config/gatehouse.yaml).
# Exit 0 on "200", 1 otherwise (refused, timed out, any other status).
set -u
listen="${GATEHOUSE_ADMIN_LISTEN:-:9090}"
port="${1:-${listen##*:}}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
status=""
IFS= read -r -t 2 status <&3
case "$status" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
esac
echo "gatehouse unhealthy: ${status:-no answer}" >&2
exit 1
