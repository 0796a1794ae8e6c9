# The Slurm job script and MPI against the real programs (tests/cluster/slurm_mpi.sh):
# a single-node Slurm started under the build tree, a stepped job array, a cancelled
# and resubmitted task, mpirun -np 2, each compared with a single-process run.
# Skipped with a message without munge, slurmctld, slurmd, the Slurm clients or Open MPI.
add_test(NAME cluster_slurm_mpi
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/slurm_mpi.sh $<TARGET_FILE:sparsexbar> ${PROJECT_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/test-tmp/cluster)
set_tests_properties(cluster_slurm_mpi PROPERTIES LABELS cluster SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)
