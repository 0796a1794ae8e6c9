sxb_test(test_tile_cuda LABELS gpu)
