sxb_test(test_mapping LABELS cpu)
