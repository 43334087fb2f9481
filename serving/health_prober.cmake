# The health prober of managed model servers (serving/health_prober.h).
# Kept out of serving/CMakeLists.txt, which the serving branch creates; the
# lead folds this file into it at merge (ocx_serving_prober then links the
# library that holds endpoint_file.cc instead of the TEMP copy below).
add_library(ocx_serving_prober STATIC
  ${CMAKE_CURRENT_LIST_DIR}/health_prober.cc)
target_link_libraries(ocx_serving_prober
  PUBLIC ocx_common absl::status absl::statusor absl::synchronization
  PRIVATE absl::strings absl::time CURL::libcurl Threads::Threads)
target_sources(ocx_serving_prober PRIVATE ${CMAKE_CURRENT_LIST_DIR}/endpoint_file.cc)  # TEMP: until the serving branch lands
