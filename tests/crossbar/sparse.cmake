sxb_test(test_sparse_forward LABELS cpu)
sxb_test(test_sparse_forward_cuda LABELS gpu)
