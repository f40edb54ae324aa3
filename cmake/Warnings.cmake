# Warnings are attached to targets through this INTERFACE target, never set globally.
add_library(tandem_warnings INTERFACE)
target_compile_options(tandem_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough -Wno-missing-field-initializers
  # GCC 12 reports Asio coroutine frames (aligned_alloc + sized delete) as mismatched: a false positive.
  -Wno-mismatched-new-delete)
if(TANDEM_WERROR)
  target_compile_options(tandem_warnings INTERFACE -Werror)
endif()
