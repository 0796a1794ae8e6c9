sxb_test(test_nn_layers LABELS cpu)
sxb_test(test_blas_core LABELS cpu)
sxb_test(test_nn_conv LABELS cpu)
sxb_test(test_safetensors_raw LABELS cpu)
