// The metric names the services expose (issue 12; docs/operations.md, "Metrics"),
// and the names a PromQL expression refers to, so that alert rules and
// dashboards can be checked against them: a typo'd or renamed metric makes
// an alert that never fires and a panel that stays empty, silently.

const histogram = (name) => [`${name}_bucket`, `${name}_sum`, `${name}_count`];

export const KNOWN_METRICS = new Set([
  // go-grpc-prometheus, server side and post-service's calls to user-service.
  "grpc_server_started_total",
  "grpc_server_handled_total",
  ...histogram("grpc_server_handling_seconds"),
  "grpc_client_started_total",
  "grpc_client_handled_total",
  ...histogram("grpc_client_handling_seconds"),
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_open_fds",
  "process_max_fds",
  "process_start_time_seconds",
  "microblog_build_info",
  "microblog_db_pool_connections",
  "microblog_db_pool_max_connections",
  "microblog_db_pool_acquisitions_total",
  "microblog_db_pool_waits_total",
  ...histogram("microblog_db_pool_wait_seconds"),
  "microblog_db_replica_usable",
  "microblog_db_replica_lag_seconds",
  "microblog_db_reads_total",
  ...histogram("microblog_batch_size"),
  "microblog_password_hash_queue_depth",
  ...histogram("microblog_password_hash_seconds"),
  "microblog_author_checks_total",
  "microblog_user_events_applied_total",
  "microblog_user_events_lag_seconds",
  // Written by Prometheus for every target it scrapes.
  "up",
]);

const KEYWORDS = new Set([
  "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
  "group_left", "group_right", "inf", "nan", "Inf", "NaN", "atan2",
]);

// The metric names `expr` selects. Not a parser: strings, label matchers,
// ranges, label lists of by/without/on/ignoring/group_*, Grafana variables
// and comments are blanked, then every identifier that is not a function
// (followed by "(") or a keyword, and not part of a number or duration, is
// a metric name. Enough for the expressions we write; a selector by
// {__name__=...} alone is not seen.
export function metricNames(expr) {
  const text = expr
    .replace(/#.*$/gm, " ")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ");
  const names = new Set();
  for (const m of text.matchAll(/[A-Za-z_:][\w:]*/g)) {
    if (m.index > 0 && /[\w.]/.test(text[m.index - 1])) continue; // 5m, 1e3, 0.5s
    if (/^\s*\(/.test(text.slice(m.index + m[0].length))) continue;
    if (KEYWORDS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}
