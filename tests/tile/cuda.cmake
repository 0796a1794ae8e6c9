sxb_test(test_tile_cuda LABELS gpu)
sxb_test(test_tile_cuda_emulated LABELS cpu)
