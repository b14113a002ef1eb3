// Replays a fuzz target's committed seeds (tests/fuzz/seeds/<target>) through its
// LLVMFuzzerTestOneInput, built by the main compiler with the unit tests (tests/fuzz/replay.cmake).
// libFuzzer builds the same sources only in scripts/run-fuzz's clang build; this driver makes every
// debug build compile them, so that a change to an API they use breaks the build at once, and makes
// the unit tier run each seed with the target's own checks (a failed check traps: the test fails).
//
// Usage: <target>_replay DIR_OR_FILE...   (at least one input must be found)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs(const std::filesystem::path& where) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  if (std::filesystem::is_directory(where, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(where, ec)) {
      if (entry.is_regular_file()) found.push_back(entry.path());
    }
  } else if (std::filesystem::is_regular_file(where, ec)) {
    found.push_back(where);
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& path : inputs(argv[i])) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 1;
      }
      const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      // A copy of exactly the input's size, as libFuzzer passes it: reads past the end are ASan's.
      std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
      std::fprintf(stderr, "%s\n", path.c_str());
      LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "no input found\n");
    return 1;
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
