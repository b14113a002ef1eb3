#pragma once
// The TLS presentation-language structures of MLS (RFC 9420) that the server reads: the MLSMessage
// envelope, KeyPackage with its LeafNode, Credential, Capabilities, Lifetime and Extensions, the
// cleartext headers of PublicMessage and PrivateMessage, and Welcome. Pure and bounded: every
// vector length is a minimal RFC 9420 §2.1.2 varint and is checked against the input and a limit
// before anything is copied. Signatures are checked by key_package.hpp.
#include <cstdint>
#include <optional>
#include <vector>

#include "core/expected.hpp"
#include "eth/bytes.hpp"

namespace gh::mls {

using eth::Bytes;
using eth::ByteView;

/// Why bytes are not the MLS structure asked for. `to_string` gives "mls_" + the name.
enum class [[nodiscard]] MlsErrc{
    truncated,               ///< a field runs past the end of the input or of its enclosing vector
    trailing_bytes,          ///< bytes left after a structure that must end the input
    invalid_varint,          ///< a length with the reserved 0b11 prefix
    non_minimal_varint,      ///< a length encoded in more bytes than it needs
    too_long,                ///< a vector or list longer than its DecodeLimits bound
    unsupported_version,     ///< an MLSMessage whose version is not mls10
    unknown_wire_format,     ///< a wire format that RFC 9420 does not define
    wrong_wire_format,       ///< a defined wire format, but not the one the caller asked for
    unsupported_credential,  ///< a credential type other than basic (1) and x509 (2)
    invalid_leaf_source,     ///< a leaf_node_source other than key_package, update or commit
    invalid_content_type,    ///< a content type other than application, proposal or commit
    invalid_sender_type,     ///< a sender type other than member, external, new member proposal/commit
    odd_list_length,         ///< a vector of uint16 values with an odd number of bytes
};

/// "mls_" followed by the code's name, e.g. "mls_truncated".
const char* to_string(MlsErrc code) noexcept;

/// Bounds applied while decoding untrusted input.
struct DecodeLimits {
  std::size_t max_key_bytes = 4096;        ///< an HPKE or signature public key (X-Wing: 1216)
  std::size_t max_signature_bytes = 8192;  ///< a signature (Ed25519: 64; ML-DSA-87: 4627)
  std::size_t max_identity_bytes = 256;    ///< a basic credential's identity
  std::size_t max_certificates = 8;        ///< certificates in an x509 credential
  std::size_t max_certificate_bytes = 8192;
  std::size_t max_list_items = 64;          ///< entries of each Capabilities list
  std::size_t max_extensions = 32;          ///< extensions of a leaf or a key package
  std::size_t max_extension_bytes = 16384;  ///< one extension's data
  std::size_t max_group_id_bytes = 256;
  std::size_t max_welcome_secrets = 1024;  ///< new members of one Welcome
};

/// Wire formats of RFC 9420 §6.
enum class WireFormat : std::uint16_t {
  public_message = 1,
  private_message = 2,
  welcome = 3,
  group_info = 4,
  key_package = 5,
};

/// Content types of RFC 9420 §6.
enum class ContentType : std::uint8_t { application = 1, proposal = 2, commit = 3 };

/// Sender types of RFC 9420 §6.
enum class SenderType : std::uint8_t { member = 1, external = 2, new_member_proposal = 3, new_member_commit = 4 };

/// Leaf node sources of RFC 9420 §7.2.
enum class LeafNodeSource : std::uint8_t { key_package = 1, update = 2, commit = 3 };

inline constexpr std::uint16_t protocol_mls10 = 1;
inline constexpr std::uint16_t credential_basic = 1;
inline constexpr std::uint16_t credential_x509 = 2;

/// A Credential: a basic one's identity, or an x509 one's certificate chain.
struct Credential {
  std::uint16_t type = 0;
  Bytes identity;                   ///< basic
  std::vector<Bytes> certificates;  ///< x509
};

/// What a client supports (RFC 9420 §7.2).
struct Capabilities {
  std::vector<std::uint16_t> versions;
  std::vector<std::uint16_t> cipher_suites;
  std::vector<std::uint16_t> extensions;
  std::vector<std::uint16_t> proposals;
  std::vector<std::uint16_t> credentials;
};

/// Validity of a key package's leaf, in seconds since the Unix epoch.
struct Lifetime {
  std::uint64_t not_before = 0;
  std::uint64_t not_after = 0;
};

/// An extension: its type and opaque data.
struct Extension {
  std::uint16_t type = 0;
  Bytes data;
};

/// A LeafNode. `tbs` is its encoding without the signature: for a key_package leaf exactly the
/// LeafNodeTBS that its signature covers.
struct LeafNode {
  Bytes encryption_key;
  Bytes signature_key;
  Credential credential;
  Capabilities capabilities;
  LeafNodeSource source = LeafNodeSource::key_package;
  std::optional<Lifetime> lifetime;  ///< key_package source
  Bytes parent_hash;                 ///< commit source
  std::vector<Extension> extensions;
  Bytes signature;
  Bytes tbs;
};

/// A KeyPackage. `tbs` is its encoding without the signature (the KeyPackageTBS).
struct KeyPackage {
  std::uint16_t version = 0;
  std::uint16_t cipher_suite = 0;
  Bytes init_key;
  LeafNode leaf_node;
  std::vector<Extension> extensions;
  Bytes signature;
  Bytes tbs;
};

/// The cleartext header of a PublicMessage or PrivateMessage: what a delivery service may read.
struct MessageHeader {
  WireFormat wire_format = WireFormat::public_message;
  Bytes group_id;
  std::uint64_t epoch = 0;
  ContentType content_type = ContentType::application;
  /// PublicMessage only (a PrivateMessage encrypts its sender).
  std::optional<SenderType> sender_type;
  std::uint32_t sender_index = 0;  ///< leaf index (member) or external sender index
};

/// A Welcome: its cipher suite and the key package references of the members it welcomes.
struct Welcome {
  std::uint16_t cipher_suite = 0;
  std::vector<Bytes> new_members;  ///< KeyPackageRef of each new member
};

/// One decoded MLSMessage envelope (version mls10) with what the server reads of its body.
struct Message {
  WireFormat wire_format = WireFormat::public_message;
  std::optional<MessageHeader> header;    ///< public_message, private_message
  std::optional<Welcome> welcome;         ///< welcome
  std::optional<KeyPackage> key_package;  ///< key_package
};

/// Decodes an MLSMessage. A PrivateMessage, Welcome or KeyPackage must end the input; of a
/// PublicMessage only the header (group id, epoch, sender, content type) is read, as its body is
/// checked by the members. A GroupInfo is recognized but not read.
Expected<Message, MlsErrc> decode_message(ByteView input, const DecodeLimits& limits = {});

/// Decodes an MLSMessage that must carry a KeyPackage (wrong_wire_format otherwise).
Expected<KeyPackage, MlsErrc> decode_key_package_message(ByteView input, const DecodeLimits& limits = {});

/// Decodes a bare KeyPackage (no MLSMessage envelope) that fills the input.
Expected<KeyPackage, MlsErrc> decode_key_package(ByteView input, const DecodeLimits& limits = {});

/// The RFC 9420 §2.1.2 encoding of a vector length (minimal, at most 2^30 - 1).
Bytes encode_varint(std::uint32_t length);

}  // namespace gh::mls
