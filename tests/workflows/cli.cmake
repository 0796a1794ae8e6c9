# The command-line tool at its door: exit codes, strict numbers, output paths, --resume.
sxb_test(test_cli_inputs LABELS cpu)
add_dependencies(test_cli_inputs sparsexbar)
target_compile_definitions(test_cli_inputs PRIVATE SXB_CLI="$<TARGET_FILE:sparsexbar>")

# Output paths: in place for devices, FIFOs and "-", never equal to an input or another output,
# never empty; a failed write (stdout included) is an error.
sxb_test(test_cli_outputs LABELS cpu)
add_dependencies(test_cli_outputs sparsexbar)
target_compile_definitions(test_cli_outputs PRIVATE SXB_CLI="$<TARGET_FILE:sparsexbar>")
