# One bounded libFuzzer run for ctest (tests/fuzz/CMakeLists.txt):
#   cmake -DFUZZER=<binary> -DSCRATCH=<dir> -DCORPUS=<dir> -DRUNS=<n> -P run_fuzzer.cmake
# SCRATCH is emptied first and receives whatever new inputs the run finds;
# CORPUS (the committed seeds) is only read. A crash, a failed property or a
# sanitizer report makes the fuzzer exit non-zero, and so the test fail; the
# offending input is left next to SCRATCH as <SCRATCH>-crash-*.
foreach(var FUZZER SCRATCH CORPUS RUNS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT IS_DIRECTORY "${CORPUS}")
  message(FATAL_ERROR "run_fuzzer.cmake: no seed corpus at ${CORPUS}")
endif()
file(REMOVE_RECURSE "${SCRATCH}")
file(MAKE_DIRECTORY "${SCRATCH}")
execute_process(
  COMMAND "${FUZZER}" -runs=${RUNS} -timeout=10 -print_final_stats=1
          -artifact_prefix=${SCRATCH}- "${SCRATCH}" "${CORPUS}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); see its report above")
endif()
