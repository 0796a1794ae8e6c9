# The GPU instances of a backend-independent test (tests/support/tile_backends.h):
# the same source built with SXB_GPU_INSTANCES, labelled gpu (SKIPPED without a GPU).
function(sxb_gpu_instances name)
  add_executable(${name}_gpu ${name}.cpp)
  target_link_libraries(${name}_gpu PRIVATE sparsexbar_core GTest::gtest_main)
  target_compile_definitions(${name}_gpu PRIVATE SXB_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SXB_GPU_INSTANCES=1)
  gtest_discover_tests(${name}_gpu PROPERTIES LABELS gpu SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
                       DISCOVERY_TIMEOUT 60)
endfunction()

sxb_test(test_tile_cuda LABELS gpu)
sxb_test(test_tile_cuda_emulated LABELS cpu)
