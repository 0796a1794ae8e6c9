sxb_test(test_strict_json LABELS cpu)
