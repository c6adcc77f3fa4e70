# Builds and runs tests/consumer against moodnet, as an outside project would.
#   cmake -DMODE=package|subdirectory -DMOODNET_SOURCE_DIR=... -DMOODNET_BINARY_DIR=...
#         -DWORK_DIR=... -DGENERATOR=... [-DMAKE_PROGRAM=...] [-DCXX_COMPILER=...]
#         [-DBUILD_TYPE=...] [-DWITH_OPENMP=ON|OFF] [-DWITH_EIGEN=ON|OFF] -P run_consumer.cmake
# package:      cmake --install MOODNET_BINARY_DIR into WORK_DIR/prefix, then find_package().
# subdirectory: add_subdirectory(MOODNET_SOURCE_DIR) with tests/examples/bench off.
cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS MODE MOODNET_SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT ${_var})
    message(FATAL_ERROR "run_consumer.cmake: -D${_var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc COMMAND_ECHO STDOUT)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer (${MODE}): command failed (${rc})")
  endif()
endfunction()

set(_config_args)
if(BUILD_TYPE)
  set(_config_args --config ${BUILD_TYPE})
endif()
set(_configure_args -G ${GENERATOR} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DMOODNET_CONSUMER_MODE=${MODE})
if(MAKE_PROGRAM)
  list(APPEND _configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_COMPILER)
  list(APPEND _configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()

file(REMOVE_RECURSE ${WORK_DIR})
if(MODE STREQUAL "package")
  if(NOT MOODNET_BINARY_DIR)
    message(FATAL_ERROR "run_consumer.cmake: package mode needs -DMOODNET_BINARY_DIR=...")
  endif()
  run(${CMAKE_COMMAND} --install ${MOODNET_BINARY_DIR} --prefix ${WORK_DIR}/prefix ${_config_args})
  list(APPEND _configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                              -DMOODNET_EXPECTED_PREFIX=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "subdirectory")
  list(APPEND _configure_args -DMOODNET_SOURCE_DIR=${MOODNET_SOURCE_DIR}
       -DMOODNET_BUILD_TESTS=OFF -DMOODNET_BUILD_EXAMPLES=OFF -DMOODNET_BUILD_BENCH=OFF)
  if(DEFINED WITH_OPENMP)
    list(APPEND _configure_args -DMOODNET_WITH_OPENMP=${WITH_OPENMP})
  endif()
  if(DEFINED WITH_EIGEN)
    list(APPEND _configure_args -DMOODNET_WITH_EIGEN=${WITH_EIGEN})
  endif()
else()
  message(FATAL_ERROR "run_consumer.cmake: MODE must be package or subdirectory, not '${MODE}'")
endif()

run(${CMAKE_COMMAND} -S ${MOODNET_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build ${_configure_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build ${_config_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --target run_consumer ${_config_args})
