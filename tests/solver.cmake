sxb_test(test_tile_solver LABELS cpu)
