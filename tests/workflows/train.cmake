sxb_test(test_vgg LABELS cpu)
sxb_test(test_vgg_infer LABELS cpu)
sxb_test(test_train LABELS cpu)
sxb_test(test_wct LABELS cpu)
sxb_test(test_nonideal_finetune LABELS cpu)
sxb_test(test_nonideal_converters LABELS cpu)
sxb_test(test_settings LABELS cpu)
# The commands' key -> flag translation is tested with the library.
target_sources(test_settings PRIVATE ${PROJECT_SOURCE_DIR}/apps/model_options.cpp ${PROJECT_SOURCE_DIR}/apps/flag_names.cpp)
