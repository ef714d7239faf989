# The node link's tests (owned by its builder): the frame codec and its
# corpus, the link between two runtimes in one process, the fuzz target
# (VA_FUZZ), and the link's benchmark (built, not run by CTest).
add_executable(test_frame unit/test_frame.c)
target_include_directories(test_frame PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_frame PRIVATE vactor_link PkgConfig::CMOCKA)
target_compile_definitions(test_frame PRIVATE
  VA_FRAME_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/frame-corpus")
add_test(NAME test_frame COMMAND test_frame)
set_tests_properties(test_frame PROPERTIES TIMEOUT 120)

add_executable(test_link unit/test_link.c)
target_include_directories(test_link PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_link PRIVATE vactor_link PkgConfig::CMOCKA Threads::Threads)
add_test(NAME test_link COMMAND test_link)
set_tests_properties(test_link PROPERTIES TIMEOUT 300)

# The link's benchmark (bench/link_bench.c): forwarded calls/s and the
# latency a hop adds, beside the same calls on one node. Not run by CTest.
add_executable(vactor-link-bench ${PROJECT_SOURCE_DIR}/bench/link_bench.c)
target_include_directories(vactor-link-bench PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(vactor-link-bench PRIVATE vactor_link)

# The frame decoder's fuzz target (libFuzzer, clang): cmake -DVA_FUZZ=ON.
if(VA_FUZZ)
  add_executable(fuzz_frame fuzz/fuzz_frame.c)
  target_compile_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_frame PRIVATE vactor_link)
endif()
