#pragma once
// Test support only: runs tests/vectors/generate.mjs under node and returns its JSON, so that
// conformance tests compare against independent implementations (ethers, @noble/*) byte for byte.
// Not part of gh_eth; include it from *_test.cpp files only.
#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "eth/bytes.hpp"
#include "eth/hex.hpp"

namespace gh::eth::testing {

/// The seed for this run: GATEHOUSE_VECTOR_SEED when set (to replay a failure), else random.
inline std::uint64_t vector_seed() {
  if (const char* env = std::getenv("GATEHOUSE_VECTOR_SEED"); env != nullptr && *env != '\0') {
    return std::stoull(env);
  }
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) | device();
}

/// A line to attach to failures (SCOPED_TRACE) so that the run can be replayed.
inline std::string replay_hint(std::string_view family, std::uint64_t seed) {
  return "vectors family=" + std::string(family) + " seed=" + std::to_string(seed) +
         " (replay with GATEHOUSE_VECTOR_SEED=" + std::to_string(seed) + ")";
}

/// Runs `node tests/vectors/generate.mjs family count seed` and returns the parsed output. Throws
/// std::runtime_error when node is missing, the generator fails or its output is not JSON.
inline boost::json::value run_vectors(std::string_view family, std::size_t count, std::uint64_t seed) {
  for (const char c : family) {
    // The family name goes into a shell command; allow only what family file names use.
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      throw std::runtime_error("bad vector family name");
    }
  }
  std::string source_dir;
  if (const char* env = std::getenv("GATEHOUSE_SOURCE_DIR"); env != nullptr && *env != '\0') {
    source_dir = env;
  } else {
#ifdef GATEHOUSE_SOURCE_DIR
    source_dir = GATEHOUSE_SOURCE_DIR;
#else
    throw std::runtime_error("GATEHOUSE_SOURCE_DIR is not set");
#endif
  }
  const std::string command = "node '" + source_dir + "/tests/vectors/generate.mjs' " + std::string(family) + " " +
                              std::to_string(count) + " " + std::to_string(seed);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot start: " + command);
  std::string output;
  char buffer[65536];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0)
    throw std::runtime_error("vector generator failed (status " + std::to_string(status) + "): " + command);
  boost::json::error_code ec;
  boost::json::value parsed = boost::json::parse(output, ec);
  if (ec) throw std::runtime_error("vector generator printed invalid JSON: " + ec.message());
  return parsed;
}

/// The cases array of a generator's output.
inline const boost::json::array& cases_of(const boost::json::value& vectors) {
  return vectors.at("cases").as_array();
}

/// A string field of a case.
inline std::string_view field(const boost::json::value& c, std::string_view key) {
  return c.at(key).as_string();
}

/// The bytes of a hex string field of a case; throws when it is not hex (a broken generator).
inline Bytes hex_field(const boost::json::value& c, std::string_view key) {
  auto bytes = from_hex(field(c, key));
  if (!bytes) throw std::runtime_error("vector field " + std::string(key) + " is not hex");
  return std::move(*bytes);
}

}  // namespace gh::eth::testing
