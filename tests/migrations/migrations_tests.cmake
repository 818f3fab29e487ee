# migrations/: the lint of every migration file, registered as CTest tests
# named migrations.*. Included from tests/CMakeLists.txt. Needs node >= 20
# and squawk from scripts/tools/package.json in .local/node_modules
# (scripts/install-deps.sh). A missing node fails with "Could not find
# executable", a missing squawk with "squawk not found": never a skip.
# Neither test needs a built binary.
#
#   migrations.lint           squawk (PostgreSQL 15, lint_config.mjs) on every
#                             migrations/**/*.sql, and the expand/contract
#                             check of every up file
#   migrations.lint_selftest  both refuse bad migrations in scratch trees, and
#                             the contract marker works as documented

find_program(MICROBLOG_NODE node)

set(_migrations_tests "${PROJECT_SOURCE_DIR}/tests/migrations")
set(_squawk "${PROJECT_SOURCE_DIR}/.local/node_modules/.bin/squawk")

add_test(NAME migrations.lint
  COMMAND ${MICROBLOG_NODE} ${_migrations_tests}/lint.mjs
    --squawk ${_squawk} --migrations ${PROJECT_SOURCE_DIR}/migrations)
add_test(NAME migrations.lint_selftest
  COMMAND ${MICROBLOG_NODE} --test ${_migrations_tests}/lint_selftest.mjs)
set_tests_properties(migrations.lint_selftest PROPERTIES
  ENVIRONMENT "SQUAWK=${_squawk}")
set_tests_properties(migrations.lint migrations.lint_selftest PROPERTIES
  LABELS migrations TIMEOUT 120)
