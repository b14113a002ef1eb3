#include "devchain/anvil.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include "core/testing/run_task.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "rpc/rpc_client.hpp"

namespace gh::devchain {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using gh::testing::run;

rpc::RpcResult<std::uint64_t> ask(const std::string& url, bool block_number = false) {
  asio::io_context ioc;
  rpc::RpcClientSettings settings;
  settings.endpoints = {url};
  settings.max_attempts = 1;
  settings.total_timeout = 2s;
  rpc::RpcClient client(ioc.get_executor(), settings);
  return block_number ? run(ioc, client.block_number()) : run(ioc, client.chain_id());
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

TEST(AnvilProcess, FindsTheProjectAndTheBinary) {
  auto root = find_project_root();
  ASSERT_TRUE(root);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(*root) / "node_modules"));
  auto binary = find_anvil({});
  ASSERT_TRUE(binary) << binary.error().message;
  EXPECT_NE(binary->find("anvil"), std::string::npos);
}

TEST(AnvilProcess, StartsAnswersAndIsReapedOnStop) {
  AnvilSettings settings;
  settings.chain_id = 4242;
  auto anvil = AnvilProcess::start(settings);
  ASSERT_TRUE(anvil) << anvil.error().message;
  const pid_t pid = anvil->pid();
  EXPECT_TRUE(alive(pid));
  auto id = ask(anvil->rpc_url());
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 4242u);
  EXPECT_EQ(anvil->rpc_url(), "http://127.0.0.1:" + std::to_string(anvil->port()));

  // anvil's disk cache is a directory of this process object's, gone once it stops.
  const std::string cache = anvil->cache_path();
  ASSERT_FALSE(cache.empty());
  EXPECT_TRUE(std::filesystem::is_directory(cache));

  anvil->stop();
  EXPECT_FALSE(std::filesystem::exists(cache));
  EXPECT_EQ(anvil->pid(), -1);
  // Reaped, not a zombie: the pid no longer exists.
  EXPECT_FALSE(alive(pid));
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(ask("http://127.0.0.1:" + std::to_string(anvil->port())));
}

TEST(AnvilProcess, StopsOnDestructionAndMoves) {
  pid_t pid = -1;
  std::string cache;
  {
    auto started = AnvilProcess::start();
    ASSERT_TRUE(started) << started.error().message;
    cache = started->cache_path();
    AnvilProcess moved = std::move(*started);
    pid = moved.pid();
    EXPECT_EQ(started->pid(), -1);
    EXPECT_EQ(moved.cache_path(), cache);
    EXPECT_TRUE(started->cache_path().empty());
    started->stop();  // the moved-from object owns nothing any more
    EXPECT_TRUE(std::filesystem::is_directory(cache));
    EXPECT_TRUE(alive(pid));
    EXPECT_EQ(*ask(moved.rpc_url()), 31337u);
  }
  EXPECT_FALSE(alive(pid));
  EXPECT_FALSE(std::filesystem::exists(cache));
}

TEST(AnvilProcess, RunsSeveralAtOnceWithABlockTimeAndALogFile) {
  const auto log_path = std::filesystem::temp_directory_path() / ("gh-anvil-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(log_path);
  AnvilSettings timed;
  timed.block_time = 200ms;
  timed.log_file = log_path.string();
  auto a = AnvilProcess::start(timed);
  auto b = AnvilProcess::start();
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NE(a->port(), b->port());

  // Blocks appear without transactions: wait (polling, up to a generous deadline) for two more.
  const auto first = ask(a->rpc_url(), true);
  ASSERT_TRUE(first);
  auto later = first;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (later && *later < *first + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    later = ask(a->rpc_url(), true);
  }
  ASSERT_TRUE(later);
  EXPECT_GE(*later, *first + 2) << "blocks are mined on the interval";
  // Automine without transactions: no new blocks.
  EXPECT_EQ(*ask(b->rpc_url(), true), 0u);

  a->stop();
  EXPECT_GT(std::filesystem::file_size(log_path), 0u);
  std::filesystem::remove(log_path);
}

TEST(AnvilProcess, ReportsAMissingBinary) {
  AnvilSettings settings;
  settings.binary = "/nonexistent/anvil";
  auto r = AnvilProcess::start(settings);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "anvil_not_found");

  ::setenv("GATEHOUSE_ANVIL", "/nonexistent/anvil-from-env", 1);
  auto from_env = find_anvil({});
  ::unsetenv("GATEHOUSE_ANVIL");
  ASSERT_FALSE(from_env);
  EXPECT_NE(from_env.error().message.find("GATEHOUSE_ANVIL"), std::string::npos);

  AnvilSettings no_modules;
  no_modules.project_root = "/nonexistent-root";
  auto missing = find_anvil(no_modules);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("npm ci"), std::string::npos);
}

TEST(AnvilProcess, ReportsAnvilExitingAtStartUp) {
  AnvilSettings settings;
  settings.extra_args = {"--no-such-flag"};
  settings.start_timeout = 5s;
  auto r = AnvilProcess::start(settings);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "anvil_exited");
}

// An anvil's listening socket is found as its own, and as no other process's: what start()
// checks, so that an anvil of another process, which took the port first, is not taken for its
// own (two test processes sending from the same dev accounts would collide on nonces).
TEST(AnvilProcess, ItsListeningSocketIsItsOwnAndNoOtherProcesss) {
  auto a = AnvilProcess::start();
  ASSERT_TRUE(a) << a.error().message;
  auto b = AnvilProcess::start();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(holds_listener(a->pid(), a->port()));
  EXPECT_TRUE(holds_listener(b->pid(), b->port()));
  EXPECT_FALSE(holds_listener(a->pid(), b->port()));
  EXPECT_FALSE(holds_listener(b->pid(), a->port()));
  EXPECT_FALSE(holds_listener(::getpid(), a->port()));
  const auto port = a->port();
  const auto pid = a->pid();
  a->stop();
  EXPECT_FALSE(holds_listener(pid, port));
}

}  // namespace
}  // namespace gh::devchain
