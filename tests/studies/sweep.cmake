sxb_test(test_sweep LABELS cpu)
