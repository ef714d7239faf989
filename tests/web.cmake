# The live dashboard (web/, issue 13), owned by its builder: the page in a
# real headless chromium against a real vactord under load
# (integration/dashboard_test.sh, driven by browser/dashboard_check.js over
# the DevTools protocol; needs /usr/bin/chromium and node). Its screenshot
# goes to the build tree (dashboard/dashboard.png), or to
# $DASHBOARD_SCREENSHOT.
add_test(NAME dashboard_browser
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/dashboard_test.sh $<TARGET_FILE:vactord>
          ${CMAKE_CURRENT_BINARY_DIR}/dashboard)
set_tests_properties(dashboard_browser PROPERTIES TIMEOUT 900)
