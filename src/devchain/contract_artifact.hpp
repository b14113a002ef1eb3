#pragma once
// Compiled contracts for the dev chain: the artifacts scripts/build-contracts.mjs writes to
// build/contracts/<Name>.json (our Solidity compiled by the pinned solcjs, and the Uniswap V2
// Factory/Pair from @uniswap/v2-core normalised to the same shape), and running that script.
#include <boost/json/array.hpp>

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "eth/abi.hpp"
#include "eth/bytes.hpp"

namespace gh::devchain {

/// One deployable contract: its name, ABI and creation bytecode.
struct ContractArtifact {
  std::string name;
  boost::json::array abi;
  /// Creation (init) code; constructor arguments are appended ABI-encoded.
  eth::Bytes bytecode;
};

/// Reads build/contracts/<name>.json style files. Errors: "artifact_missing" (no such file; run
/// the build), "artifact_invalid" (not the expected shape).
Result<ContractArtifact> load_contract_artifact(const std::string& file);

/// `<project_root>/build/contracts`, where the build writes the artifacts.
std::string contracts_build_dir(const std::string& project_root);

/// Runs `node scripts/build-contracts.mjs --quiet` in `project_root` and waits for it. The script
/// skips compiling when its stamp matches, so calling this on every start is cheap. Its output
/// goes to our stdout/stderr (compile errors must reach the developer). Errors: "node_not_found",
/// "contracts_build_failed".
Result<void> build_contracts(const std::string& project_root);

/// An ABI failure while preparing or reading a devchain transaction: bad input named by the code's
/// stable name ("abi_value_invalid"), the message saying what was being done.
Error abi_error(eth::AbiErrc code, std::string_view what);

/// The creation code of `artifact` followed by `constructor_args` ABI-encoded as the tuple of
/// `constructor_types`. Errors: abi_encode's.
Result<eth::Bytes> creation_code(const ContractArtifact& artifact, const std::vector<eth::AbiType>& constructor_types,
                                 const eth::AbiValues& constructor_args);

}  // namespace gh::devchain
