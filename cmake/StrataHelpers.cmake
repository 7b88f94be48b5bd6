# Small helpers so every module is declared the same way (cf. absl_cc_library).
#
#   strata_library(NAME log SRCS a.cc b.cc DEPS strata::index absl::status)
#     -> static library strata_log with alias strata::log; the repository root is
#        the include root, so headers are included as "log/segment.h".
#   strata_test(NAME log_segment_test SRCS segment_test.cc DEPS strata::log)
#     -> gtest binary registered with ctest (label from LABELS, default "unit").

# -Wmaybe-uninitialized gives false positives with absl::StatusOr under g++ 12.
set(STRATA_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND STRATA_WARNINGS -Wno-maybe-uninitialized)
endif()

function(strata_library)
  cmake_parse_arguments(L "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(strata_${L_NAME} STATIC ${L_SRCS})
  add_library(strata::${L_NAME} ALIAS strata_${L_NAME})
  target_include_directories(strata_${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(strata_${L_NAME} PRIVATE ${STRATA_WARNINGS})
  target_link_libraries(strata_${L_NAME} PUBLIC ${L_DEPS})
endfunction()

function(strata_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_compile_options(${T_NAME} PRIVATE ${STRATA_WARNINGS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
