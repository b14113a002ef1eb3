#pragma once
// Test support: runs src/notify/testing/push_oracle.mjs (node, http_ece, node:crypto) on one JSON
// request and returns its JSON answer. Test code only.
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace gh::notify::testing {

inline boost::json::object oracle(const boost::json::object& request) {
  static int counter = 0;
  const char* source = std::getenv("GATEHOUSE_SOURCE_DIR");
  const std::string root = source != nullptr ? source : ".";
  const auto path = std::filesystem::temp_directory_path() /
                    ("gh-notify-oracle-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".json");
  {
    std::ofstream out(path);
    out << boost::json::serialize(request);
  }
  const std::string command = "node " + root + "/src/notify/testing/push_oracle.mjs " + path.string();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run node");
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
  const int status = pclose(pipe);
  std::filesystem::remove(path);
  if (status != 0) throw std::runtime_error("push_oracle.mjs failed: " + text);
  return boost::json::parse(text).as_object();
}

}  // namespace gh::notify::testing
