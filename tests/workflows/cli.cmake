# The command-line tool at its door: exit codes, strict numbers, output paths, --resume.
sxb_test(test_cli_inputs LABELS cpu)
add_dependencies(test_cli_inputs sparsexbar)
target_compile_definitions(test_cli_inputs PRIVATE SXB_CLI="$<TARGET_FILE:sparsexbar>")
