sxb_test(test_vgg LABELS cpu)
sxb_test(test_train LABELS cpu)
sxb_test(test_wct LABELS cpu)
