#include "net/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace gh::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& b) {
  for (std::size_t i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    a.v4 = true;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(a.bytes.data(), &v6, 16);
    a.v4 = is_v4_mapped(a.bytes);
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char out[INET6_ADDRSTRLEN] = {};
  if (v4) {
    ::inet_ntop(AF_INET, &bytes[12], out, sizeof out);
  } else {
    ::inet_ntop(AF_INET6, bytes.data(), out, sizeof out);
  }
  return out;
}

std::uint32_t IpAddress::v4_value() const noexcept {
  return (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) | (std::uint32_t{bytes[14]} << 8) |
         std::uint32_t{bytes[15]};
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  IpNetwork n;
  n.base = *address;
  const unsigned width = address->v4 ? 32 : 128;
  unsigned length = width;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      length = length * 10 + static_cast<unsigned>(c - '0');
    }
    if (length > width) return std::nullopt;
  }
  n.prefix = address->v4 ? 96 + length : length;
  return n;
}

bool IpNetwork::contains(const IpAddress& address) const noexcept {
  unsigned bits = prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const auto mask = static_cast<std::uint8_t>(0xffu << (8 - take));
    if ((address.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string client_prefix(std::string_view ip) {
  auto address = IpAddress::parse(ip);
  if (!address) return std::string(ip);
  if (address->v4) return address->to_string();
  std::fill(address->bytes.begin() + 8, address->bytes.end(), std::uint8_t{0});
  return address->to_string() + "/64";
}

Result<std::vector<IpNetwork>> parse_networks(const std::vector<std::string>& texts) {
  std::vector<IpNetwork> out;
  for (const auto& t : texts) {
    auto n = IpNetwork::parse(t);
    if (!n) return bad_input("invalid_network", "'" + t + "' is not an IP address or CIDR network");
    out.push_back(*n);
  }
  return out;
}

bool ForwardedForPolicy::trusts(const IpAddress& address) const noexcept {
  return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                     [&](const IpNetwork& n) { return n.contains(address); });
}

Result<std::string> client_address(std::string_view peer, const std::vector<std::string_view>& forwarded,
                                   const ForwardedForPolicy& policy) {
  const auto peer_address = IpAddress::parse(peer);
  if (!peer_address) return std::string(peer);
  if (!policy.enabled || forwarded.empty()) return peer_address->to_string();
  const bool single_hop = policy.trusted_proxies.empty();
  if (!single_hop && !policy.trusts(*peer_address)) return peer_address->to_string();

  std::vector<std::string_view> entries;
  for (auto header : forwarded) {
    for (;;) {
      const auto comma = header.find(',');
      entries.push_back(trim(header.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      header.remove_prefix(comma + 1);
    }
  }
  std::optional<IpAddress> client;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    auto address = IpAddress::parse(*it);
    if (!address) {
      return bad_input("invalid_forwarded_for", "X-Forwarded-For holds a value that is not an IP address");
    }
    client = address;
    if (single_hop || !policy.trusts(*address)) break;
  }
  return client->to_string();
}

}  // namespace gh::net
