sxb_test(test_pruning LABELS cpu)
