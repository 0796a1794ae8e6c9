sxb_test(test_safetensors LABELS cpu)
