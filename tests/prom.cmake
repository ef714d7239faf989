# Metrics for Prometheus users (issue 13): the /proc parsers behind the
# process metrics (unit), and GET /metrics of real vactord nodes against
# the real promtool, with docs/grafana/vactor.json's queries checked
# against what the nodes serve (tests/integration/metrics_test.sh, beside
# a throw-away PostgreSQL for its two cluster nodes).
add_executable(test_prom_metrics unit/test_prom_metrics.c)
target_include_directories(test_prom_metrics PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_prom_metrics PRIVATE vactor_api PkgConfig::CMOCKA)
add_test(NAME test_prom_metrics COMMAND test_prom_metrics)
set_tests_properties(test_prom_metrics PROPERTIES TIMEOUT 60)

vactord_cluster_script(prom_metrics metrics_test.sh 300)
