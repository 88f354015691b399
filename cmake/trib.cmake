# Build helpers: every module is one static library whose DEPS list is the layer table in
# docs/ARCHITECTURE.md, so a missing edge fails to link and a cycle cannot be expressed.

# -Wno-missing-field-initializers: g++ 12 warns on designated initializers that leave out
# members with default initializers, which is what designated initializers are for.
set(TRIB_WARNINGS -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough -Wno-missing-field-initializers)

option(TRIB_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(TRIB_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        # clang 14 cannot emit -fsanitize=function checks inside coroutines ("Cannot represent
        # a difference across sections"); the rest of UBSan stays on.
        add_compile_options(-fno-sanitize=function)
    endif()
endif()

# Fuzzing needs clang's libFuzzer; every library gets coverage instrumentation, the fuzz
# targets link the fuzzer's main (tests/fuzz).
option(TRIB_FUZZ "Also build the libFuzzer targets (clang only)" OFF)
if(TRIB_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "TRIB_FUZZ needs clang (the asan and fuzz presets set it)")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# trib_module(NAME base SOURCES a.cc b.cc DEPS other_module PUBLIC_LIBS fmt::fmt)
function(trib_module)
    cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
    add_library(trib_${M_NAME} STATIC ${M_SOURCES})
    target_include_directories(trib_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(trib_${M_NAME} PRIVATE ${TRIB_WARNINGS})
    foreach(dep IN LISTS M_DEPS)
        target_link_libraries(trib_${M_NAME} PUBLIC trib_${dep})
    endforeach()
    target_link_libraries(trib_${M_NAME} PUBLIC ${M_PUBLIC_LIBS} PRIVATE ${M_PRIVATE_LIBS})
endfunction()

# trib_unit_test(NAME base_test SOURCES x_test.cc DEPS base): one gtest binary per module.
function(trib_unit_test)
    cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_compile_options(${T_NAME} PRIVATE ${TRIB_WARNINGS})
    target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    foreach(dep IN LISTS T_DEPS)
        target_link_libraries(${T_NAME} PRIVATE trib_${dep})
    endforeach()
    target_link_libraries(${T_NAME} PRIVATE GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${T_NAME} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS unit)
endfunction()
