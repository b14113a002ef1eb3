#include <gtest/gtest.h>

#include <fstream>

#include "app/settings.hpp"

namespace gh::app {
namespace {

Result<Command> parse(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "gatehouse");
  return parse_command_line(static_cast<int>(args.size()), args.data(), env);
}

std::string write_file(const std::string& name, const std::string& content) {
  const auto path = ::testing::TempDir() + name;
  std::ofstream(path) << content;
  return path;
}

TEST(Settings, DefaultsMatchTheApiContract) {
  auto c = parse({"serve"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "serve");
  EXPECT_EQ(c->settings.listen_host, "127.0.0.1");
  EXPECT_EQ(c->settings.listen_port, 8080);
  EXPECT_EQ(c->settings.database_url(), "sqlite:./var/gatehouse.db");
  EXPECT_TRUE(c->settings.has(Role::worker));
}

TEST(Settings, KeyFetchLimitsAndDevDomainsAreExplicitAndValidated) {
  auto c =
      parse({"serve", "--key-fetch-rate-limit", "2", "--key-fetch-rate-burst", "5", "--key-fetch-target-rate-limit",
             "0.5", "--key-fetch-target-rate-burst", "7", "--siwe-http-domain", "dev.test:3000,other.test"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_DOUBLE_EQ(c->settings.key_fetch_rate_per_caller, 2.0);
  EXPECT_DOUBLE_EQ(c->settings.key_fetch_burst_per_caller, 5.0);
  EXPECT_DOUBLE_EQ(c->settings.key_fetch_rate_per_target, 0.5);
  EXPECT_DOUBLE_EQ(c->settings.key_fetch_burst_per_target, 7.0);
  EXPECT_EQ(c->settings.siwe_http_domains, (std::vector<std::string>{"dev.test:3000", "other.test"}));
  EXPECT_FALSE(parse({"serve", "--key-fetch-target-rate-limit", "0"}));
  EXPECT_FALSE(parse({"serve", "--key-fetch-rate-burst", "-1"}));
}

TEST(Settings, ApiKeyListAndRevokeAreCommands) {
  auto list = parse({"apikey", "list"});
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(list->name, "apikey-list");
  auto revoke = parse({"apikey", "revoke", "abc123"});
  ASSERT_TRUE(revoke) << revoke.error().message;
  EXPECT_EQ(revoke->name, "apikey-revoke");
  EXPECT_EQ(revoke->apikey_id, "abc123");
  EXPECT_FALSE(parse({"apikey", "revoke"}));
}

TEST(Settings, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  const auto file =
      write_file("precedence.toml", "listen = \"127.0.0.1:1111\"\nlog_level = \"warn\"\ndata_dir = \"/f\"\n");
  auto c = parse({"serve", "--config", file.c_str(), "--listen", "127.0.0.1:3333"},
                 {{"GATEHOUSE_LISTEN", "127.0.0.1:2222"}, {"GATEHOUSE_LOG_LEVEL", "error"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->settings.listen_port, 3333);   // flag
  EXPECT_EQ(c->settings.log_level, "error");  // environment over file
  EXPECT_EQ(c->settings.data_dir, "/f");      // file over default
  c = parse({"serve"}, {{"GATEHOUSE_CONFIG", file}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->settings.listen_port, 1111);
}

TEST(Settings, RepeatableAndListValues) {
  const auto file = write_file("chains.toml", "[chain]\n1 = \"https://rpc.example\"\n");
  auto c = parse({"serve", "--config", file.c_str(), "--siwe-domain", "a.example", "--siwe-domain", "b.example",
                  "--roles", "api,worker"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->settings.chains.at(1), "https://rpc.example");
  EXPECT_EQ(c->settings.siwe_domains.size(), 2u);
  EXPECT_TRUE(c->settings.has(Role::api));
  EXPECT_FALSE(c->settings.has(Role::indexer));
  c = parse({"serve", "--chain", "31337=http://127.0.0.1:8545", "--chain", "1=https://x"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->settings.chains.size(), 2u);
}

TEST(Settings, ChainContractsTakeAnOptionalStartBlockAndRpcTimeoutsAreSettable) {
  auto c = parse({"serve", "--chain-contract", "1:erc20:0x00000000000000000000000000000000000000aa", "--chain-contract",
                  "1:uniswap_v2:0x00000000000000000000000000000000000000bb@1234", "--chain-rpc-timeout-ms", "250",
                  "--chain-rpc-call-timeout-ms", "2000", "--chain-max-log-span", "5"});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->settings.chain_contracts.size(), 2u);
  EXPECT_EQ(c->settings.chain_contracts[0].pipeline, "erc20");
  EXPECT_FALSE(c->settings.chain_contracts[0].start_block);
  EXPECT_EQ(c->settings.chain_contracts[1].address, "0x00000000000000000000000000000000000000bb");
  EXPECT_EQ(c->settings.chain_contracts[1].start_block, std::optional<std::uint64_t>(1234));
  EXPECT_EQ(c->settings.chain_rpc_attempt_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c->settings.chain_rpc_call_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->settings.chain_max_log_span, 5u);
  for (const char* bad : {"1:erc20:0x00000000000000000000000000000000000000aa@", "1:erc20:0x0@5",
                          "1:erc20:0x00000000000000000000000000000000000000aa@x"}) {
    auto r = parse({"serve", "--chain-contract", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("chain-contract"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(parse({"serve", "--chain-rpc-timeout-ms", "0"}));
}

TEST(Settings, BadInputIsOneLineNamingTheProblem) {
  struct Case {
    std::vector<const char*> args;
    std::map<std::string, std::string> env;
    std::string needle;
  };
  const auto bad_toml = write_file("bad.toml", "listen = \n");
  const auto unknown_key = write_file("unknown.toml", "lisen = \"x\"\n");
  const std::vector<Case> cases = {
      {{"serve", "--nope"}, {}, "--nope"},
      {{"serve", "--listen", "nocolon"}, {}, "listen"},
      {{"serve", "--listen", "127.0.0.1:70000"}, {}, "listen"},
      {{"serve", "--io-threads", "0"}, {}, "io-threads"},
      {{"serve", "--io-threads", "two"}, {}, "io-threads"},
      {{"serve", "--database", "mysql://x"}, {}, "database"},
      {{"serve", "--roles", "api,cook"}, {}, "roles"},
      {{"serve", "--chain", "abc=http://x"}, {}, "chain"},
      {{"serve", "--chain", "1=ftp://x"}, {}, "chain"},
      {{"serve", "--log-level", "loud"}, {}, "log-level"},
      {{"serve"}, {{"GATEHOUSE_RATE_LIMIT", "-1"}}, "GATEHOUSE_RATE_LIMIT"},
      {{"serve", "--config", bad_toml.c_str()}, {}, "bad.toml"},
      {{"serve", "--config", unknown_key.c_str()}, {}, "lisen"},
      {{"serve", "--config", "/nonexistent/gatehouse.toml"}, {}, "gatehouse.toml"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args, c.env);
    ASSERT_FALSE(r) << c.needle;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

TEST(Settings, UnrelatedEnvironmentIsIgnored) {
  auto c = parse({"serve"}, {{"GATEHOUSE_TEST_POSTGRES_URL", "postgres://x"}, {"PATH", "/bin"}});
  EXPECT_TRUE(c);
}

TEST(Settings, WebSocketTimeoutsAreSettable) {
  auto defaults = parse({"serve"});
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->settings.ws_resume_stall_timeout, std::chrono::milliseconds(10'000));
  auto c = parse({"serve", "--ws-resume-stall-timeout-ms", "2500", "--ws-close-timeout-ms", "700"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->settings.ws_resume_stall_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c->settings.ws_close_timeout, std::chrono::milliseconds(700));
  auto bad = parse({"serve", "--ws-resume-stall-timeout-ms", "soon"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_configuration");
}

TEST(Settings, HardeningFlags) {
  auto c = parse({"serve", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1,192.0.2.4", "--metrics-listen",
                  "127.0.0.1:9100", "--max-connections-per-ip", "20", "--body-budget-bytes", "4194304",
                  "--outbound-allow-http", "--outbound-allow-network", "127.0.0.0/8"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->settings.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "::1", "192.0.2.4"}));
  EXPECT_EQ(c->settings.metrics_listen_host, "127.0.0.1");
  EXPECT_EQ(c->settings.metrics_listen_port, 9100);
  EXPECT_EQ(c->settings.max_connections_per_ip, 20u);
  EXPECT_EQ(c->settings.body_budget_bytes, 4194304u);
  EXPECT_TRUE(c->settings.outbound_allow_http);
  EXPECT_EQ(c->settings.outbound_allow_networks, (std::vector<std::string>{"127.0.0.0/8"}));

  for (std::vector<const char*> bad :
       {std::vector<const char*>{"serve", "--trusted-proxy", "proxy.internal"},
        std::vector<const char*>{"serve", "--trusted-proxy", "10.0.0.0/33"},
        std::vector<const char*>{"serve", "--outbound-allow-network", "x"},
        std::vector<const char*>{"serve", "--metrics-listen", "9100"},
        std::vector<const char*>{"serve", "--max-body-bytes", "2097152", "--body-budget-bytes", "1048576"}}) {
    auto r = parse(bad);
    ASSERT_FALSE(r) << bad[1];
    EXPECT_EQ(r.error().code, "bad_configuration") << bad[1];
  }
}

}  // namespace
}  // namespace gh::app
