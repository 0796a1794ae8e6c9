sxb_test(test_dataset LABELS cpu)
sxb_test(test_shared_data LABELS data)
sxb_test(test_jpeg_decode LABELS cpu)
