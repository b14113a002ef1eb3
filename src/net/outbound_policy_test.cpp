// The outbound policy: which URLs a user may make the server call, and the connect-time check
// that keeps a name resolving to an internal address (DNS rebinding) from reaching it.
#include "net/outbound_policy.hpp"

#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/testing/run_task.hpp"
#include "net/http_client.hpp"

namespace gh::net {
namespace {

std::string_view reason(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a ? non_public_reason(*a) : std::string_view("unparsed");
}

TEST(OutboundPolicy, ClassifiesNonPublicAddresses) {
  const std::pair<const char*, std::string_view> cases[] = {
      {"127.0.0.1", "loopback"},
      {"127.255.0.9", "loopback"},
      {"10.1.2.3", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.254", "private"},
      {"192.168.1.1", "private"},
      {"169.254.169.254", "link_local"},
      {"100.64.0.1", "cgnat"},
      {"100.100.100.200", "cgnat"},
      {"0.0.0.0", "unspecified"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.250", "multicast"},
      {"255.255.255.255", "reserved"},
      {"240.0.0.1", "reserved"},
      {"192.0.2.10", "documentation"},
      {"::1", "loopback"},
      {"::", "unspecified"},
      {"fe80::1", "link_local"},
      {"fc00::1", "private"},
      {"fd00:ec2::254", "private"},
      {"ff02::1", "multicast"},
      {"2001:db8::1", "documentation"},
      {"::127.0.0.1", "reserved"},
      {"2001::1", "reserved"},
      // IPv4 inside IPv6 is judged by the IPv4 address.
      {"::ffff:127.0.0.1", "loopback"},
      {"::ffff:169.254.169.254", "link_local"},
      {"64:ff9b::a9fe:a9fe", "link_local"},
      {"2002:7f00:1::1", "loopback"},
      {"2002:a00:1::", "private"},
  };
  for (const auto& [text, why] : cases) EXPECT_EQ(reason(text), why) << text;
  for (const char* pub : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.4.4",
                          "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_EQ(reason(pub), "") << pub;
  }
}

TEST(OutboundPolicy, AcceptsOnlyHttpsToPublicHosts) {
  const OutboundPolicy strict;
  EXPECT_TRUE(check_outbound_url("https://hooks.example.com/push?x=1", strict));
  EXPECT_TRUE(check_outbound_url("https://8.8.8.8/", strict));
  EXPECT_TRUE(check_outbound_url("https://[2606:4700::1111]:8443/", strict));
  const std::pair<const char*, const char*> refused[] = {
      {"http://hooks.example.com/", "invalid_url"},
      {"ftp://hooks.example.com/", "invalid_url"},
      {"https://user:pw@hooks.example.com/", "invalid_url"},
      {"hooks.example.com/push", "invalid_url"},
      {"https:///nohost", "invalid_url"},
      {"https://169.254.169.254/latest/meta-data/", "forbidden_destination"},
      {"https://127.0.0.1/", "forbidden_destination"},
      {"https://[::1]/", "forbidden_destination"},
      {"https://[::ffff:10.0.0.1]/", "forbidden_destination"},
      {"https://[fe80::1]/", "forbidden_destination"},
      {"https://localhost/", "forbidden_destination"},
      {"https://LocalHost./", "forbidden_destination"},
      {"https://api.localhost/", "forbidden_destination"},
      {"https://2130706433/", "invalid_url"},  // 127.0.0.1 as one number
      {"https://127.1/", "invalid_url"},
      {"https://0x7f.0.0.1/", "invalid_url"},
      {"", "invalid_url"},
  };
  for (const auto& [url, code] : refused) {
    auto r = check_outbound_url(url, strict);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, code) << url;
  }
}

TEST(OutboundPolicy, OperatorExceptions) {
  OutboundPolicy dev;
  dev.allow_http = true;
  dev.allowed_networks = {*IpNetwork::parse("127.0.0.0/8"), *IpNetwork::parse("10.2.0.0/16")};
  EXPECT_TRUE(check_outbound_url("http://127.0.0.1:9000/hook", dev));
  EXPECT_TRUE(check_outbound_url("https://10.2.3.4/hook", dev));
  EXPECT_FALSE(check_outbound_url("https://10.3.0.1/hook", dev));
  EXPECT_FALSE(check_outbound_url("https://169.254.169.254/", dev));
  EXPECT_FALSE(check_outbound_url("http://u@127.0.0.1/", dev));
}

// The addresses the machine's own name resolves to (loopback or a private interface, in a test
// environment), or nothing when it does not resolve.
std::vector<IpAddress> own_name_addresses(std::string& name) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return {};
  name = host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host, "443", &hints, &found) != 0) return {};
  std::vector<IpAddress> out;
  for (auto* p = found; p != nullptr; p = p->ai_next) {
    char text[64] = {};
    const void* raw = p->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
    if (::inet_ntop(p->ai_family, raw, text, sizeof text) != nullptr) {
      if (auto a = IpAddress::parse(text)) out.push_back(*a);
    }
  }
  ::freeaddrinfo(found);
  return out;
}

TEST(OutboundPolicy, HttpClientRefusesAddressLiteralsBeforeConnecting) {
  boost::asio::io_context ioc;
  HttpClientSettings settings;
  settings.outbound_policy.emplace();
  HttpClient client(ioc.get_executor(), settings);
  HttpRequest req;
  req.url = "https://169.254.169.254/latest/meta-data/";
  auto res = gh::testing::run(ioc, client.request(req));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::forbidden_destination);
  EXPECT_EQ(res.failure().to_error().kind, ErrorKind::forbidden);
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(OutboundPolicy, HttpClientChecksResolvedAddressesAtConnectTime) {
  // A host name passes the URL check; what it resolves to is checked when connecting, which is
  // what stops a name that an attacker re-points at an internal address.
  std::string name;
  const auto addresses = own_name_addresses(name);
  const bool all_internal =
      !addresses.empty() &&
      std::all_of(addresses.begin(), addresses.end(), [](const IpAddress& a) { return !non_public_reason(a).empty(); });
  if (!all_internal || IpAddress::parse(name))
    GTEST_SKIP() << "this machine's name does not resolve to internal addresses only";
  OutboundPolicy policy;
  policy.allow_http = true;
  ASSERT_TRUE(check_outbound_url("http://" + name + ":1/", policy)) << "the name alone looks harmless";

  boost::asio::io_context ioc;
  HttpClientSettings settings;
  settings.outbound_policy.emplace(policy);
  HttpClient client(ioc.get_executor(), settings);
  HttpRequest req;
  req.url = "http://" + name + ":1/hook";
  auto res = gh::testing::run(ioc, client.request(req));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::forbidden_destination) << res.failure().message;
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(OutboundPolicy, AllowedNetworksReachTheSocket) {
  // A closed loopback port: with loopback allowed, the client gets as far as connecting.
  boost::asio::io_context ioc;
  std::uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  HttpClientSettings settings;
  OutboundPolicy policy;
  policy.allow_http = true;
  policy.allowed_networks = {*IpNetwork::parse("127.0.0.1/32")};
  settings.outbound_policy.emplace(policy);
  HttpClient client(ioc.get_executor(), settings);
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto res = gh::testing::run(ioc, client.request(req));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::connection_refused) << res.failure().message;
  req.url = "http://127.0.0.2:" + std::to_string(port) + "/";
  res = gh::testing::run(ioc, client.request(req));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::forbidden_destination);
}

}  // namespace
}  // namespace gh::net
