sxb_test(test_mapping LABELS cpu)
sxb_test(test_crossbar_eval LABELS cpu)
sxb_test(test_mapping_cuda LABELS gpu)
sxb_test(test_rearrange LABELS cpu)
