// Strict IP parsing, CIDR matching, and the client address behind trusted proxies: a client that
// writes its own X-Forwarded-For entries can never choose the address it is limited and logged by.
#include "net/ip_address.hpp"

#include <gtest/gtest.h>

namespace gh::net {
namespace {

IpNetwork net_of(std::string_view text) {
  auto n = IpNetwork::parse(text);
  EXPECT_TRUE(n) << text;
  return n.value_or(IpNetwork{});
}

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

TEST(IpAddress, ParsesOnlyPlainAddresses) {
  EXPECT_EQ(ip("192.0.2.1").to_string(), "192.0.2.1");
  EXPECT_TRUE(ip("192.0.2.1").v4);
  EXPECT_EQ(ip("2001:DB8:0:0::1").to_string(), "2001:db8::1");
  EXPECT_FALSE(ip("2001:db8::1").v4);
  // An IPv4-mapped IPv6 address is the IPv4 address.
  EXPECT_EQ(ip("::ffff:10.1.2.3").to_string(), "10.1.2.3");
  EXPECT_TRUE(ip("::ffff:10.1.2.3").v4);
  for (const char* bad : {"", "localhost", "1.2.3", "1.2.3.4:80", "[::1]", "::1%eth0", "01.2.3.4 x", "1.2.3.4 ",
                          "256.1.1.1", "evil\n127.0.0.1", "1.2.3.4/8"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpNetwork, MatchesPrefixesOfBothFamilies) {
  const auto ten = net_of("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(ip("10.255.1.2")));
  EXPECT_TRUE(ten.contains(ip("::ffff:10.0.0.1")));
  EXPECT_FALSE(ten.contains(ip("11.0.0.1")));
  EXPECT_FALSE(ten.contains(ip("::a00:1")));  // IPv4-compatible is not IPv4
  const auto odd = net_of("172.16.0.0/12");
  EXPECT_TRUE(odd.contains(ip("172.31.255.255")));
  EXPECT_FALSE(odd.contains(ip("172.32.0.0")));
  const auto v6 = net_of("fd00::/8");
  EXPECT_TRUE(v6.contains(ip("fd12:3456::1")));
  EXPECT_FALSE(v6.contains(ip("fe80::1")));
  EXPECT_TRUE(net_of("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_FALSE(net_of("0.0.0.0/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(net_of("::/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(net_of("198.51.100.7").contains(ip("198.51.100.7")));
  EXPECT_FALSE(net_of("198.51.100.7").contains(ip("198.51.100.8")));
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "host/8", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(IpNetwork::parse(bad)) << bad;
  }
  EXPECT_FALSE(parse_networks({"10.0.0.0/8", "nope"}));
  EXPECT_EQ(parse_networks({"10.0.0.0/8", "::1"})->size(), 2u);
}

TEST(ClientPrefix, CountsIpv6ClientsByTheirSlash64) {
  EXPECT_EQ(client_prefix("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(client_prefix("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(client_prefix("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_prefix("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  EXPECT_NE(client_prefix("2001:db8:1:3::1"), client_prefix("2001:db8:1:2::1"));
  EXPECT_EQ(client_prefix("unknown"), "unknown");
}

TEST(ClientAddress, IgnoresForwardedForUnlessEnabled) {
  ForwardedForPolicy off;
  EXPECT_EQ(*client_address("192.0.2.1", {"203.0.113.5"}, off), "192.0.2.1");
}

TEST(ClientAddress, OneHopTakesTheRightMostEntry) {
  ForwardedForPolicy one{true, {}};
  // The client wrote "1.1.1.1"; the proxy appended the address it saw.
  EXPECT_EQ(*client_address("10.0.0.2", {"1.1.1.1, 203.0.113.5"}, one), "203.0.113.5");
  EXPECT_EQ(*client_address("10.0.0.2", {"1.1.1.1", "203.0.113.5"}, one), "203.0.113.5");
  EXPECT_EQ(*client_address("10.0.0.2", {}, one), "10.0.0.2");
  // Rotating the client-written part changes nothing.
  for (const char* forged : {"9.9.9.9", "8.8.8.8, 7.7.7.7", "junk"}) {
    EXPECT_EQ(*client_address("10.0.0.2", {forged, "203.0.113.5"}, one), "203.0.113.5") << forged;
  }
}

TEST(ClientAddress, ChainOfTrustedProxiesIsSkipped) {
  ForwardedForPolicy chain{true, {net_of("10.0.0.0/8"), net_of("2001:db8:1::/48")}};
  EXPECT_EQ(*client_address("10.0.0.2", {"6.6.6.6, 203.0.113.5, 10.1.1.1, 2001:db8:1::7"}, chain), "203.0.113.5");
  // A peer that is not a trusted proxy is the client itself, whatever it claims.
  EXPECT_EQ(*client_address("198.51.100.4", {"203.0.113.5"}, chain), "198.51.100.4");
  // Every entry trusted: the left-most one is the best we know.
  EXPECT_EQ(*client_address("10.0.0.2", {"10.9.9.9, 10.1.1.1"}, chain), "10.9.9.9");
  // A mapped peer address still matches the IPv4 proxy network.
  EXPECT_EQ(*client_address("::ffff:10.0.0.2", {"203.0.113.5"}, chain), "203.0.113.5");
  // The result is canonical text, never a client-chosen spelling.
  EXPECT_EQ(*client_address("10.0.0.2", {"2001:DB8:0::9"}, chain), "2001:db8::9");
}

TEST(ClientAddress, RejectsValuesThatAreNotAddresses) {
  ForwardedForPolicy chain{true, {net_of("10.0.0.0/8")}};
  for (const char* bad : {"<script>", "203.0.113.5:443", "", " , ", "unknown", "203.0.113.5\r\nX: y"}) {
    auto r = client_address("10.0.0.2", {bad}, chain);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_forwarded_for");
  }
  // Junk left of the client's entry is never examined.
  EXPECT_EQ(*client_address("10.0.0.2", {"<script>, 203.0.113.5"}, chain), "203.0.113.5");
}

}  // namespace
}  // namespace gh::net
