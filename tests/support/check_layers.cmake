# Layering check (ctest "layering"): a part of the tree never includes a
# higher one (docs/architecture.md), apps/ reaches kernels/ only for the
# project's error type, and no code cites the specification's sections.
# Run: cmake -DSOURCE_DIR=<repo> -P tests/support/check_layers.cmake
set(RANKS
  "kernels/common=0" "kernels/tile=1" "kernels/nn=1" "models/io=2" "models=3"
  "engine/io=4" "engine/data=5" "engine/crossbar=6" "engine/converters=7" "engine/rearrangement=8"
  "engine/evaluation=9" "engine/training=10" "engine/pruning=11" "engine/studies=12"
  "engine/report=13" "apps=14" "bench=15" "tests=15")

function(rank_of path out)  # the rank of the longest matching folder prefix
  set(best -1)
  set(best_len 0)
  foreach(entry ${RANKS})
    string(REPLACE "=" ";" kv ${entry})
    list(GET kv 0 folder)
    list(GET kv 1 rank)
    string(LENGTH "${folder}/" len)
    string(SUBSTRING "${path}" 0 ${len} head)
    if(head STREQUAL "${folder}/" AND len GREATER best_len)
      set(best ${rank})
      set(best_len ${len})
    endif()
  endforeach()
  set(${out} ${best} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR}
  ${SOURCE_DIR}/kernels/*.h ${SOURCE_DIR}/kernels/*.cpp ${SOURCE_DIR}/kernels/*.cu ${SOURCE_DIR}/kernels/*.cuh
  ${SOURCE_DIR}/models/*.h ${SOURCE_DIR}/models/*.cpp ${SOURCE_DIR}/engine/*.h ${SOURCE_DIR}/engine/*.cpp
  ${SOURCE_DIR}/apps/*.h ${SOURCE_DIR}/apps/*.cpp)
set(problems "")
foreach(src ${sources})
  rank_of(${src} own)
  file(STRINGS ${SOURCE_DIR}/${src} includes REGEX "^#include \"")
  foreach(line ${includes})
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" inc "${line}")
    rank_of(${inc} theirs)
    if(theirs GREATER own)
      list(APPEND problems "${src} includes ${inc}, a higher part")
    endif()
    if(src MATCHES "^apps/" AND inc MATCHES "^kernels/" AND NOT inc STREQUAL "kernels/common/error.h")
      list(APPEND problems "${src} includes ${inc}: apps/ reaches kernels only through engine/ and models/")
    endif()
  endforeach()
  file(STRINGS ${SOURCE_DIR}/${src} cites REGEX "SPEC §")
  if(cites)
    list(APPEND problems "${src} cites the specification's sections")
  endif()
endforeach()
list(LENGTH sources count)
if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "layering: ${text}")
endif()
message(STATUS "layering: ${count} files, every include goes down")
