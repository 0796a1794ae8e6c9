# The include layering of docs/architecture.md, checked on every test run.
add_test(NAME layering COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
         -P ${CMAKE_CURRENT_SOURCE_DIR}/support/check_layers.cmake)
set_tests_properties(layering PROPERTIES LABELS cpu)
