#pragma once
// IP addresses and networks as plain values, parsed strictly (no host names, ports or zones), and
// the client address behind trusted reverse proxies. Free of Asio: cheap to include.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gh::net {

/// An IPv4 or IPv6 address. IPv4 is held in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one
/// prefix comparison serves both families; an IPv4-mapped IPv6 text parses as IPv4.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;

  /// A plain address ("192.0.2.1", "2001:db8::1"); nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  /// The canonical text (IPv4 dotted quad, RFC 5952 IPv6).
  std::string to_string() const;
  /// The IPv4 address as a number (only meaningful when v4).
  std::uint32_t v4_value() const noexcept;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// A network in CIDR notation ("10.0.0.0/8", "fd00::/8"); a bare address is a /32 or /128.
struct IpNetwork {
  IpAddress base;
  unsigned prefix = 128;  ///< in the 128-bit space (an IPv4 /8 is 104)

  /// Parses "ADDR" or "ADDR/LEN"; nullopt when malformed or when LEN exceeds the family's width.
  static std::optional<IpNetwork> parse(std::string_view text);
  /// True when `address` lies in the network.
  bool contains(const IpAddress& address) const noexcept;
};

/// What per-client limits should count: an IPv4 address as is, an IPv6 address as its /64 (one
/// client usually holds a whole /64, so counting addresses would multiply its share by 2^64);
/// anything else unchanged.
std::string client_prefix(std::string_view ip);

/// Parses a list of networks; the error names the first bad entry.
Result<std::vector<IpNetwork>> parse_networks(const std::vector<std::string>& texts);

/// Which reverse proxies may tell us the client's address in X-Forwarded-For.
struct ForwardedForPolicy {
  /// Honour X-Forwarded-For at all.
  bool enabled = false;
  /// The proxies (like nginx's set_real_ip_from). Empty while enabled: the direct peer is the one
  /// trusted proxy, whatever its address, and the client is the right-most entry.
  std::vector<IpNetwork> trusted_proxies;

  /// True when `address` is one of the trusted proxies.
  bool trusts(const IpAddress& address) const noexcept;
};

/// The client's address: the direct peer unless it is a trusted proxy; then the right-most
/// X-Forwarded-For entry that is not a trusted proxy (entries left of it are written by the
/// client and never believed). `forwarded` holds every X-Forwarded-For header in arrival order.
/// A value examined that is not an IP address is a bad request (400 `invalid_forwarded_for`).
Result<std::string> client_address(std::string_view peer, const std::vector<std::string_view>& forwarded,
                                   const ForwardedForPolicy& policy);

}  // namespace gh::net
