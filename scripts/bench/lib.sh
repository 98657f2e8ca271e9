# Shared by the benchmark scripts (sourced, not run).

# Writes a gatehouse.yaml for a benchmark: $1 file, $2 data port, $3 admin port,
# $4 identity.token_cache_entries (default 100000), $5 assertion.enabled (default true).
# Tenant files go in tenants/ next to it; key sets are served over http from 127.0.0.1.
bench_gatehouse_yaml() {
  cat > "$1" <<YAML
listen: "127.0.0.1:$2"
admin:
  listen: "127.0.0.1:$3"
tenants_dir: tenants
identity:
  token_cache_entries: ${4:-100000}
  insecure_idp_hosts: ["127.0.0.1"]
assertion:
  enabled: ${5:-true}
  key_dir: keys
YAML
}
