# Independent validation of the tile solvers: an Eigen sparse solve of the
# nodal system (test_tile_eigen) and ngspice (test_tile_spice, skipped when
# ngspice is not on PATH). Included by tests/CMakeLists.txt.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)

if(NOT TARGET sxb_nodal_eigen)
  add_library(sxb_nodal_eigen STATIC ${PROJECT_SOURCE_DIR}/tests/support/nodal_eigen.cpp)
  target_link_libraries(sxb_nodal_eigen PUBLIC sparsexbar_core Eigen3::Eigen)
endif()

sxb_test(test_tile_eigen LABELS cpu)
target_link_libraries(test_tile_eigen PRIVATE sxb_nodal_eigen)

sxb_gpu_instances(test_tile_eigen)
target_link_libraries(test_tile_eigen_gpu PRIVATE sxb_nodal_eigen)

sxb_test(test_tile_spice LABELS spice)
