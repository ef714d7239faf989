# The PostgreSQL store's tests (owned by its builder): the store's contract
# and its cluster semantics against a throw-away PostgreSQL that
# tests/support/with_postgres.sh starts for the test, and removes after.
add_executable(test_store_pg unit/test_store_pg.c)
target_include_directories(test_store_pg PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_store_pg PRIVATE vactor PkgConfig::CMOCKA
  PkgConfig::LIBPQ PkgConfig::XXHASH)
add_test(NAME test_store_pg
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/with_postgres.sh
          $<TARGET_FILE:test_store_pg>)
set_tests_properties(test_store_pg PROPERTIES TIMEOUT 300)
