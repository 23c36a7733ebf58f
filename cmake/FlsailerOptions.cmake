# Compiler flags shared by every target: warnings, sanitizers, ccache.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

add_compile_options(-Wall -Wextra -Wno-unused-parameter)

if(FLSAILER_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(FLSAILER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FLSAILER_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  # Instrument everything for coverage; the fuzzer main is linked only into fuzz targets.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# flsailer_add_test(NAME name SOURCES ... LIBS ...): a GoogleTest executable registered with ctest.
# Tests run from the source tree so that fixtures under tests/ and ../shared/data resolve.
function(flsailer_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Any test may load an HDF5 dataset, which runs the reader helper (libs/data/isolated_reader.h).
  add_dependencies(${T_NAME} flsailer-read-dataset)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  gtest_discover_tests(${T_NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# flsailer_add_fuzzer(NAME name SOURCES ... LIBS ...): a libFuzzer target (only with FLSAILER_FUZZ).
function(flsailer_add_fuzzer)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(FLSAILER_FUZZ)
    add_executable(${F_NAME} ${F_SOURCES})
    target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()

# flsailer_add_proto_library(NAME name IMPORT_DIR dir PROTOS ...): a static library of the protobuf
# and gRPC C++ code generated from PROTOS. A proto at IMPORT_DIR/a/b.proto yields "a/b.pb.h" and
# "a/b.grpc.pb.h" on the library's include path.
function(flsailer_add_proto_library)
  cmake_parse_arguments(P "" "NAME;IMPORT_DIR" "PROTOS" ${ARGN})
  add_library(${P_NAME} STATIC)
  target_sources(${P_NAME} PRIVATE ${P_PROTOS})
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}_gen)
  file(MAKE_DIRECTORY ${gen_dir})
  protobuf_generate(TARGET ${P_NAME} LANGUAGE cpp
    IMPORT_DIRS ${P_IMPORT_DIR} PROTOC_OUT_DIR ${gen_dir})
  protobuf_generate(TARGET ${P_NAME} LANGUAGE grpc
    GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
    PLUGIN "protoc-gen-grpc=${GRPC_CPP_PLUGIN}"
    IMPORT_DIRS ${P_IMPORT_DIR} PROTOC_OUT_DIR ${gen_dir})
  target_include_directories(${P_NAME} PUBLIC ${gen_dir})
  target_link_libraries(${P_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  # Generated code is not ours to warn about.
  target_compile_options(${P_NAME} PRIVATE -w)
endfunction()
