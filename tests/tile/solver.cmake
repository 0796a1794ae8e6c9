sxb_test(test_tile_solver LABELS cpu)
sxb_gpu_instances(test_tile_solver)
sxb_test(test_tile_json LABELS cpu)
sxb_test(test_dense_small LABELS cpu)
