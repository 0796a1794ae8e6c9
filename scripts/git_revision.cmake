# Writes OUT (a header defining SPARSEXBAR_GIT) with `git describe --always
# --dirty` of SRC, run at every build (CMakeLists.txt) so that the revision the
# outputs record is the built one; the file is rewritten only when the
# revision changed, so an unchanged tree recompiles nothing.
execute_process(COMMAND git describe --always --dirty WORKING_DIRECTORY "${SRC}"
  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev unknown)
endif()
set(text "#define SPARSEXBAR_GIT \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
