sxb_test(test_atomic_file LABELS cpu)
