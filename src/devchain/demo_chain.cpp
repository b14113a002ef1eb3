#include "devchain/demo_chain.hpp"

// GCC 12 inlines Asio's awaitable frame allocation and its sized operator delete into coroutines
// and reports them as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

#include "devchain/contract_artifact.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::devchain {

Result<DemoDeployment> deploy_demo_blocking(const std::string& rpc_url, DemoSettings settings) {
  boost::asio::io_context ioc;
  rpc::RpcClientSettings rpc_settings;
  rpc_settings.endpoints = {rpc_url};
  rpc::RpcClient client(ioc.get_executor(), rpc_settings);
  settings.rpc_url = rpc_url;
  std::optional<Result<DemoDeployment>> out;
  std::exception_ptr failure;
  boost::asio::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await deploy_demo(client, std::move(settings))); },
      [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

Result<DemoChain> start_demo_chain(DemoChainSettings settings) {
  if (settings.project_root.empty()) {
    auto root = find_project_root();
    if (!root) {
      return make_error(ErrorKind::unavailable, "project_root_not_found",
                        "no project root with node_modules found: run from the source tree after `npm ci`, or set "
                        "GATEHOUSE_SOURCE_DIR");
    }
    settings.project_root = *root;
  }
  if (settings.anvil.project_root.empty()) settings.anvil.project_root = settings.project_root;
  // Build before starting anvil: a compile error then costs no process to clean up.
  if (auto built = build_contracts(settings.project_root); !built) return std::move(built).error();
  auto anvil = AnvilProcess::start(settings.anvil);
  if (!anvil) return std::move(anvil).error();
  DemoSettings demo;
  demo.artifacts_dir = contracts_build_dir(settings.project_root);
  demo.chain_id = anvil->chain_id();
  auto deployment = deploy_demo_blocking(anvil->rpc_url(), std::move(demo));
  if (!deployment) return std::move(deployment).error();
  return DemoChain{std::move(*anvil), std::move(*deployment)};
}

const Result<DemoChain>& shared_demo_chain() {
  // A function-local static: started once, thread-safely, and destroyed (anvil stopped) at exit.
  static const Result<DemoChain> chain = start_demo_chain();
  return chain;
}

}  // namespace gh::devchain
