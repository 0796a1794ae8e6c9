sxb_test(test_mapping LABELS cpu)
sxb_test(test_crossbar_eval LABELS cpu)
