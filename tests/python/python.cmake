# The Python module's pytest suite (apps/python, docs/python.md), label python:
# one ctest test per test_*.py, run by run_pytest.py with this build's module
# (build/python) and CLI (to compare against). Reported skipped, with the reason,
# when the module was not built (no Python dev files or pybind11), when NumPy or
# pytest is missing, or when a file skips every test (torch not installed).
file(GLOB SXB_PYTESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
foreach(f ${SXB_PYTESTS})
  get_filename_component(stem ${f} NAME_WE)
  string(REGEX REPLACE "^test_" "python_" name ${stem})
  if(TARGET sparsexbar_python)
    add_test(NAME ${name} COMMAND ${SPARSEXBAR_PYTHON_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_pytest.py ${f}
             ${CMAKE_BINARY_DIR}/test-tmp/python/${stem})
    set_tests_properties(${name} PROPERTIES LABELS python SKIP_RETURN_CODE 77 ENVIRONMENT
      "PYTHONPATH=${PROJECT_BINARY_DIR}/python;SXB_CLI=$<TARGET_FILE:sparsexbar>;PYTHONDONTWRITEBYTECODE=1")
  else()
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: the Python module was not built: ${SPARSEXBAR_PYTHON_MISSING}")
    set_tests_properties(${name} PROPERTIES LABELS python SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endif()
endforeach()
