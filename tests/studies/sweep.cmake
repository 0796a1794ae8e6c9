sxb_test(test_sweep LABELS cpu)
# run -> merge -> scripts/study_report.py on a reduced study file, through the CLI.
sxb_test(test_study_pipeline LABELS cpu)
add_dependencies(test_study_pipeline sparsexbar)
target_compile_definitions(test_study_pipeline PRIVATE SXB_CLI="$<TARGET_FILE:sparsexbar>")
# scripts/study_state.py: the study's dense models and checkpoints kept in data/study-models/.
sxb_test(test_study_state LABELS cpu)
