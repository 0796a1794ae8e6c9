sxb_test(test_tile_forward LABELS cpu)
sxb_test(test_converter_eval LABELS cpu)
