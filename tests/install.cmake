# The installed library (owned by helper "install"; issue 13): a build
# installed into a temporary prefix, then examples/counter.c built against
# it from outside the tree with pkg-config (shared and static) and with
# find_package(vactor), the exported symbols, the versions and the man page
# (tests/install/install_test.sh). It runs in every preset: in the
# sanitizer builds libvactor is instrumented, so the programs are built
# with the same -fsanitize flags (VA_SANITIZE) and the same compiler.
include(GNUInstallDirs)
add_test(NAME install
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install/install_test.sh
          ${PROJECT_BINARY_DIR} ${CMAKE_INSTALL_LIBDIR} ${PROJECT_VERSION}
          ${CMAKE_C_COMPILER} "${VA_SANITIZE}")
set_tests_properties(install PROPERTIES TIMEOUT 300)
