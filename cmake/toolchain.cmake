# Compiler cache, linker and sanitizers. Applies to every target, ours and the compiled Boost parts.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # Build directories differ per preset; hashing the directory would defeat sharing the cache.
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_NOHASHDIR=true CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} ${CCACHE_PROGRAM})
endif()

find_program(MOLD_PROGRAM mold)
if(MOLD_PROGRAM)
  add_link_options(-fuse-ld=mold)
endif()

if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo)
endif()
# Keep -O2 for release: -O3 costs much compile time on the Beast units for no measured gain.
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g1 -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG")
# The sanitizer build: -Og, not -O1, and line tables only (-g1, all that ASan's and UBSan's stack
# traces use). Under ASan + UBSan GCC 12 compiles messaging/service.cpp in 39 s of CPU this way,
# against 71 s at -O1 -g; full debug info (-g) alone costs a third more.
set(CMAKE_CXX_FLAGS_DEBUG "-Og -g1")

add_compile_options(-fno-omit-frame-pointer)
if(GATEHOUSE_SANITIZE)
  # Every UBSan check but null and alignment, which GCC emits at each pointer use, inlined library
  # code included: they are 40% of this build's compile time (23 s instead of 39 for
  # messaging/service.cpp). A null dereference still faults and ASan reports it with its stack;
  # alignment is checked where byte buffers are parsed, by the fuzz targets (tests/fuzz), which
  # build with every UBSan check.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=null,alignment -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(GATEHOUSE_TSAN)
  # ThreadSanitizer (make test-race). Asio's reference counts release with fetch_sub and acquire
  # with a standalone fence, which TSan does not model (GCC's -Wtsan says so): every executor's
  # destruction would be reported. Without std::atomic Asio counts with Boost's acq_rel atomics.
  add_compile_options(-fsanitize=thread -Wno-tsan)
  add_compile_definitions(BOOST_ASIO_DISABLE_STD_ATOMIC)
  add_link_options(-fsanitize=thread)
endif()

# Warnings are errors on our own targets only (third-party headers are SYSTEM includes).
set(GATEHOUSE_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnon-virtual-dtor -Woverloaded-virtual -Werror
  # GCC 12 flags the coroutine frame's class-specific operator delete (Asio's awaitable frames)
  # as mismatched with its operator new: a known false positive (GCC PR 109224).
  -Wno-mismatched-new-delete)
if(CMAKE_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # In a unity source every .cpp but the generated one is an included file, so a type of one .cpp
  # that holds a member of an anonymous-namespace type looks like a header's type to GCC.
  list(APPEND GATEHOUSE_WARNINGS -Wno-subobject-linkage)
endif()
