sxb_test(test_nn_cuda LABELS gpu)
