# deploy/: offline checks of the Kubernetes manifests and the monitoring
# objects, registered as CTest tests named deploy.*. Included from
# tests/CMakeLists.txt. Needs kubectl (>= 1.30 for the manifests' fields;
# the build machines have 1.32), node >= 20 and the npm packages of
# scripts/tools/package.json in .local/node_modules (scripts/install-deps.sh).
# A missing tool makes the tests fail with "Could not find executable",
# never skips them.
#
#   deploy.render.<overlay>      `kubectl kustomize` renders the overlay
#   deploy.schema.<overlay>      every rendered object validates against the
#                                Kubernetes API schema (unknown fields too;
#                                cert-manager's custom resources skipped)
#   deploy.schema.examples       same for deploy/k8s/examples/*.yaml
#   deploy.manifests.<overlay>   release/security properties of the render
#   deploy.checks_selftest       each of those checks fails on a broken render
#   deploy.render.monitoring     `kubectl kustomize deploy/monitoring` renders
#   deploy.alerts                the PrometheusRule's spec passes `promtool
#                                check rules` and `promtool test rules`
#                                (alerts_rules_test.yaml: each alert firing and
#                                silent), names only metrics the services expose
#   deploy.dashboard             grafana-dashboard.json is JSON and names only
#                                metrics the services expose
#
# promtool comes from Debian's `prometheus` package (scripts/install-deps.sh).

find_program(MICROBLOG_KUBECTL kubectl)
find_program(MICROBLOG_NODE node)
find_program(MICROBLOG_PROMTOOL promtool)

set(_deploy_dir "${PROJECT_SOURCE_DIR}/deploy")
set(_deploy_env
  "MICROBLOG_NODE_MODULES=${PROJECT_SOURCE_DIR}/.local/node_modules"
  "KUBECTL=${MICROBLOG_KUBECTL}")
set(_migrations "${PROJECT_SOURCE_DIR}/migrations")

# prod-tls is a deprecated alias of prod (mTLS is in base): not tested apart.
foreach(overlay dev prod prod-cert-manager prod-pgbouncer)
  set(_overlay_dir "${_deploy_dir}/k8s/overlays/${overlay}")
  add_test(NAME deploy.render.${overlay}
    COMMAND ${MICROBLOG_KUBECTL} kustomize ${_overlay_dir})
  add_test(NAME deploy.schema.${overlay}
    COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/schema_test.mjs ${_overlay_dir})
  set(_manifest_flags)
  if(NOT overlay STREQUAL "dev")
    # Prod: highly available; Secrets created out of band as in the example.
    set(_manifest_flags --high-availability
      --external-secrets ${_deploy_dir}/k8s/examples/secrets.example.yaml)
  endif()
  add_test(NAME deploy.manifests.${overlay}
    COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/manifests_test.mjs
      --overlay ${_overlay_dir} --migrations ${_migrations} ${_manifest_flags})
  set_tests_properties(deploy.schema.${overlay} deploy.manifests.${overlay}
    PROPERTIES ENVIRONMENT "${_deploy_env}")
endforeach()

add_test(NAME deploy.schema.examples
  COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/schema_test.mjs
    ${_deploy_dir}/k8s/examples/secrets.example.yaml
    ${_deploy_dir}/k8s/examples/migrate-down.example.yaml)
add_test(NAME deploy.checks_selftest
  COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/checks_selftest.mjs --migrations ${_migrations})
set_tests_properties(deploy.schema.examples deploy.checks_selftest
  PROPERTIES ENVIRONMENT "${_deploy_env}")

# Alert rules and monitoring objects (deploy/monitoring). A missing promtool
# is passed on as ...-NOTFOUND and fails the promtool cases.
add_test(NAME deploy.render.monitoring
  COMMAND ${MICROBLOG_KUBECTL} kustomize ${_deploy_dir}/monitoring)
add_test(NAME deploy.alerts
  COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/alerts_test.mjs
    --promtool ${MICROBLOG_PROMTOOL}
    --rule ${_deploy_dir}/monitoring/prometheus-rule.yaml
    --unit ${_deploy_dir}/tests/alerts_rules_test.yaml)
set_tests_properties(deploy.alerts PROPERTIES ENVIRONMENT "${_deploy_env}")
add_test(NAME deploy.dashboard
  COMMAND ${MICROBLOG_NODE} ${_deploy_dir}/tests/dashboard_test.mjs
    ${_deploy_dir}/monitoring/grafana-dashboard.json)

get_property(_deploy_tests DIRECTORY PROPERTY TESTS)
list(FILTER _deploy_tests INCLUDE REGEX "^deploy\\.")
set_tests_properties(${_deploy_tests} PROPERTIES LABELS deploy TIMEOUT 120)
