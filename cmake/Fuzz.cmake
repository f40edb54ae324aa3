# The Fuzz build type: every target compiled for libFuzzer's coverage feedback (fuzzer-no-link)
# under ASan + UBSan; the harnesses in tests/fuzz add `-fsanitize=fuzzer` when they link, which
# brings libFuzzer's main(). libFuzzer ships with clang only (Debian 12: clang 14 with
# libclang-rt-14-dev, installed by scripts/deps).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TANDEM_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                      "configure with -DCMAKE_CXX_COMPILER=clang++, as scripts/build fuzz does")
endif()
set(CMAKE_CXX_FLAGS_FUZZ
    "-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    CACHE STRING "Flags for the Fuzz build type" FORCE)
set(CMAKE_EXE_LINKER_FLAGS_FUZZ "-fsanitize=address,undefined" CACHE STRING "" FORCE)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Fuzz")
  message(FATAL_ERROR "TANDEM_FUZZ needs CMAKE_BUILD_TYPE=Fuzz (got '${CMAKE_BUILD_TYPE}')")
endif()
