sxb_test(test_tile_forward LABELS cpu)
sxb_test(test_converter_eval LABELS cpu)
sxb_test(test_tile_product LABELS cpu)
sxb_test(test_tile_product_cuda LABELS gpu)
