#include "net/outbound_policy.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <boost/url/parse.hpp>

namespace gh::net {
namespace {

struct Range {
  const char* network;
  std::string_view reason;
};

// IPv4, by RFC 6890 and its successors, with the cloud metadata addresses (169.254.169.254 in
// link-local, Alibaba's 100.100.100.200 in CGNAT) covered by their ranges.
constexpr std::array<Range, 16> v4_ranges{{
    {"0.0.0.0/8", "unspecified"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "cgnat"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link_local"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "reserved"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "reserved"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "reserved"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"255.255.255.255/32", "reserved"},
}};

// IPv6 ranges that carry no IPv4 address (those are unwrapped first).
constexpr std::array<Range, 11> v6_ranges{{
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"::/96", "reserved"},  // IPv4-compatible, deprecated
    {"64:ff9b:1::/48", "private"},
    {"100::/64", "reserved"},
    {"2001::/23", "reserved"},  // IETF protocol assignments, Teredo included
    {"2001:db8::/32", "documentation"},
    {"fc00::/7", "private"},  // unique local, AWS's fd00:ec2::254 metadata included
    {"fe80::/10", "link_local"},
    {"fec0::/10", "link_local"},  // site-local, deprecated
    {"ff00::/8", "multicast"},
}};

const std::vector<std::pair<IpNetwork, std::string_view>>& compiled(bool v4) {
  auto build = [](const auto& ranges) {
    std::vector<std::pair<IpNetwork, std::string_view>> out;
    out.reserve(ranges.size());
    for (const auto& r : ranges) out.emplace_back(*IpNetwork::parse(r.network), r.reason);
    return out;
  };
  static const auto four = build(v4_ranges);
  static const auto six = build(v6_ranges);
  return v4 ? four : six;
}

IpAddress from_v4(const std::uint8_t* b) {
  IpAddress a;
  a.v4 = true;
  a.bytes[10] = 0xff;
  a.bytes[11] = 0xff;
  std::copy(b, b + 4, a.bytes.begin() + 12);
  return a;
}

// The IPv4 address an IPv6 address carries by a translation mechanism, if any.
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  static const auto nat64 = *IpNetwork::parse("64:ff9b::/96");
  static const auto six_to_four = *IpNetwork::parse("2002::/16");
  if (nat64.contains(a)) return from_v4(&a.bytes[12]);
  if (six_to_four.contains(a)) return from_v4(&a.bytes[2]);
  return std::nullopt;
}

// Hosts a resolver would read as an IPv4 address in a legacy form ("127.1", "2130706433",
// "0x7f.0.0.1"): refused outright rather than guessed at.
bool numeric_looking(std::string_view host) {
  auto last = host.substr(host.rfind('.') == std::string_view::npos ? 0 : host.rfind('.') + 1);
  if (last.empty()) return false;
  const bool hex = last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X');
  if (hex) last.remove_prefix(2);
  return std::all_of(last.begin(), last.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
  });
}

Error forbidden(std::string message) {
  return make_error(ErrorKind::forbidden, "forbidden_destination", std::move(message));
}

}  // namespace

std::string_view non_public_reason(const IpAddress& address) {
  IpAddress a = address;
  if (!a.v4) {
    if (auto inner = embedded_v4(a)) a = *inner;
  }
  for (const auto& [network, reason] : compiled(a.v4)) {
    if (network.contains(a)) return reason;
  }
  return {};
}

Result<void> check_outbound_address(const IpAddress& address, const OutboundPolicy& policy) {
  const auto reason = non_public_reason(address);
  if (reason.empty()) return ok();
  for (const auto& n : policy.allowed_networks) {
    if (n.contains(address)) return ok();
  }
  return forbidden("the destination " + address.to_string() + " is not a public address (" + std::string(reason) + ")");
}

Result<void> check_outbound_url(std::string_view url, const OutboundPolicy& policy) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad_input("invalid_url", "not an absolute URL");
  const auto& u = *parsed;
  const auto scheme = u.scheme_id();
  if (scheme != boost::urls::scheme::https && !(policy.allow_http && scheme == boost::urls::scheme::http)) {
    return bad_input("invalid_url", policy.allow_http ? "the URL must be https or http" : "the URL must be https");
  }
  if (u.has_userinfo()) return bad_input("invalid_url", "the URL must not carry user info");
  if (!u.has_authority() || u.encoded_host().empty()) return bad_input("invalid_url", "the URL has no host");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6: {
      auto address = IpAddress::parse(u.host_address());
      if (!address) return bad_input("invalid_url", "the URL's host is not a valid address");
      return check_outbound_address(*address, policy);
    }
    case boost::urls::host_type::name: {
      std::string host(u.host_name());
      std::transform(host.begin(), host.end(), host.begin(),
                     [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
      while (!host.empty() && host.back() == '.') host.pop_back();
      if (host.empty()) return bad_input("invalid_url", "the URL has no host");
      if (host == "localhost" || (host.size() > 10 && host.ends_with(".localhost"))) {
        return forbidden("the destination " + host + " is this machine");
      }
      if (numeric_looking(host)) return bad_input("invalid_url", "the URL's host is neither a name nor an address");
      return ok();
    }
    default:
      return bad_input("invalid_url", "the URL's host is not supported");
  }
}

}  // namespace gh::net
