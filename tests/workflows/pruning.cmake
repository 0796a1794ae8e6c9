sxb_test(test_pruning LABELS cpu)
sxb_test(test_pruning_vgg LABELS cpu)
