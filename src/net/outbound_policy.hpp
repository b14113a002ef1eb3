#pragma once
// Where the server may send requests on a user's behalf (webhook push targets and other URLs a
// user supplies). A URL is checked when it is accepted, and the addresses its host resolves to are
// checked again when the HTTP client connects, so that a name which later resolves to an internal
// address (DNS rebinding) still cannot reach one. Free of Asio: cheap to include.
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "net/ip_address.hpp"

namespace gh::net {

/// The operator's exceptions to the default: https only, public unicast addresses only.
struct OutboundPolicy {
  /// Also accept plain http (local development and tests).
  bool allow_http = false;
  /// Networks reachable despite being loopback, private, link-local and so on.
  std::vector<IpNetwork> allowed_networks;
};

/// Why an address is not public ("loopback", "private", "link_local", "cgnat", "multicast",
/// "unspecified", "reserved", "documentation", ...); empty for a public unicast address. IPv4
/// embedded in IPv6 (mapped, NAT64, 6to4) is judged by its IPv4 address.
std::string_view non_public_reason(const IpAddress& address);

/// Ok when the policy lets the server connect to `address`; 403 `forbidden_destination` otherwise.
Result<void> check_outbound_address(const IpAddress& address, const OutboundPolicy& policy);

/// Ok when `url` is an absolute https URL (http if allowed) without user info, whose host is a
/// name or an allowed address literal; 400 `invalid_url` or 403 `forbidden_destination` otherwise.
Result<void> check_outbound_url(std::string_view url, const OutboundPolicy& policy);

}  // namespace gh::net
