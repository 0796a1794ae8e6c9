sxb_test(test_nn_layers LABELS cpu)
