# One bounded libFuzzer run for ctest (tests/fuzz/CMakeLists.txt):
#   cmake -DFUZZER=<binary> -DSCRATCH=<dir> -DCORPUS=<dir> -DRUNS=<n> -DMAX_LEN=<bytes>
#         -P run_fuzzer.cmake
# 1. Every committed input of CORPUS runs once, whole (some regression inputs
#    are longer than MAX_LEN: a crash that needs a long input).
# 2. RUNS mutations of inputs up to MAX_LEN bytes. SCRATCH is emptied first and
#    receives whatever new inputs the run finds; CORPUS is only read.
# A crash, a failed property or a sanitizer report makes the fuzzer exit
# non-zero, and so the test fail; the offending input is saved next to
# SCRATCH as <SCRATCH>-crash-*.
foreach(var FUZZER SCRATCH CORPUS RUNS MAX_LEN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()
file(GLOB inputs LIST_DIRECTORIES false "${CORPUS}/*")
if(NOT inputs)
  message(FATAL_ERROR "run_fuzzer.cmake: no seed corpus at ${CORPUS}")
endif()
file(REMOVE_RECURSE "${SCRATCH}")
file(MAKE_DIRECTORY "${SCRATCH}")

execute_process(COMMAND "${FUZZER}" -artifact_prefix=${SCRATCH}- ${inputs} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed on a committed input of ${CORPUS} (exit ${rc})")
endif()
execute_process(
  COMMAND "${FUZZER}" -runs=${RUNS} -max_len=${MAX_LEN} -timeout=10 -print_final_stats=1
          -artifact_prefix=${SCRATCH}- "${SCRATCH}" "${CORPUS}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); see its report above")
endif()
