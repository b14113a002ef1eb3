#include "devchain/contract_artifact.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "eth/hex.hpp"

extern char** environ;

namespace gh::devchain {
namespace {

namespace fs = std::filesystem;

Error artifact_invalid(const std::string& file, const std::string& why) {
  return make_error(ErrorKind::internal, "artifact_invalid", file + ": " + why);
}

}  // namespace

Result<ContractArtifact> load_contract_artifact(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::unavailable, "artifact_missing",
                      file + " is missing: run `node scripts/build-contracts.mjs` in the project root");
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const auto doc = boost::json::parse(text.str(), ec);
  if (ec || !doc.is_object()) return artifact_invalid(file, "not a JSON object");
  const auto& obj = doc.as_object();
  const auto* name = obj.if_contains("contractName");
  const auto* abi = obj.if_contains("abi");
  const auto* bytecode = obj.if_contains("bytecode");
  if (!name || !name->is_string()) return artifact_invalid(file, "no contractName");
  if (!abi || !abi->is_array()) return artifact_invalid(file, "no abi array");
  if (!bytecode || !bytecode->is_string()) return artifact_invalid(file, "no bytecode string");
  auto code = eth::from_hex(bytecode->as_string());
  if (!code) return artifact_invalid(file, std::string("bytecode: ") + eth::to_string(code.error()));
  // Unlinked library placeholders ("__$...$__") would fail the hex decode above; empty code is
  // an interface or abstract contract, which cannot be deployed.
  if (code->empty()) return artifact_invalid(file, "empty bytecode (not deployable)");
  return ContractArtifact{std::string(name->as_string()), abi->as_array(), std::move(*code)};
}

std::string contracts_build_dir(const std::string& project_root) {
  return (fs::path(project_root) / "build" / "contracts").string();
}

Result<void> build_contracts(const std::string& project_root) {
  const std::string script = (fs::path(project_root) / "scripts" / "build-contracts.mjs").string();
  std::vector<std::string> args = {"node", script, "--quiet"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // stdin from /dev/null: the script never reads it, and an inherited terminal would let it.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "node", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return make_error(ErrorKind::unavailable, "node_not_found",
                      std::string("cannot run node (needed to build the contracts): ") + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return internal_error(std::string("waitpid: ") + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(ErrorKind::internal, "contracts_build_failed",
                      script + " failed (status " + std::to_string(status) + "); its output is above");
  }
  return ok();
}

Error abi_error(eth::AbiErrc code, std::string_view what) {
  return bad_input(eth::to_string(code), std::string(what) + ": " + eth::to_string(code));
}

Result<eth::Bytes> creation_code(const ContractArtifact& artifact, const std::vector<eth::AbiType>& constructor_types,
                                 const eth::AbiValues& constructor_args) {
  eth::Bytes code = artifact.bytecode;
  if (constructor_types.empty()) return code;
  auto args = eth::abi_encode(constructor_types, constructor_args);
  if (!args) return abi_error(args.error(), "encoding the constructor arguments of " + artifact.name);
  code.insert(code.end(), args->begin(), args->end());
  return code;
}

}  // namespace gh::devchain
