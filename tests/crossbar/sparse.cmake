sxb_test(test_sparse_forward LABELS cpu)
