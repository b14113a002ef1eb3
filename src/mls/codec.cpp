#include "mls/codec.hpp"

namespace gh::mls {
namespace {

// A cursor over untrusted bytes. Every read checks the bytes left first; a failed read leaves the
// reader failed and every later read fails too, so decoders check once per structure.
class Reader {
 public:
  explicit Reader(ByteView input) : m_in(input) {}

  std::size_t position() const noexcept { return m_pos; }
  std::size_t left() const noexcept { return m_in.size() - m_pos; }
  bool at_end() const noexcept { return m_pos == m_in.size(); }
  ByteView consumed_since(std::size_t start) const noexcept { return m_in.subspan(start, m_pos - start); }

  Expected<std::uint64_t, MlsErrc> uint(std::size_t bytes) {
    if (left() < bytes) return MlsErrc::truncated;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | m_in[m_pos + i];
    m_pos += bytes;
    return v;
  }
  Expected<std::uint8_t, MlsErrc> u8() {
    auto v = uint(1);
    if (!v) return v.error();
    return static_cast<std::uint8_t>(*v);
  }
  Expected<std::uint16_t, MlsErrc> u16() {
    auto v = uint(2);
    if (!v) return v.error();
    return static_cast<std::uint16_t>(*v);
  }
  Expected<std::uint32_t, MlsErrc> u32() {
    auto v = uint(4);
    if (!v) return v.error();
    return static_cast<std::uint32_t>(*v);
  }
  Expected<std::uint64_t, MlsErrc> u64() { return uint(8); }

  // A vector length (RFC 9420 §2.1.2): the top two bits of the first byte give 1, 2 or 4 bytes.
  Expected<std::size_t, MlsErrc> varint() {
    if (left() < 1) return MlsErrc::truncated;
    const unsigned prefix = static_cast<unsigned>(m_in[m_pos]) >> 6;
    if (prefix == 3) return MlsErrc::invalid_varint;
    const std::size_t size = std::size_t{1} << prefix;
    if (left() < size) return MlsErrc::truncated;
    std::uint32_t v = m_in[m_pos] & 0x3fu;
    for (std::size_t i = 1; i < size; ++i) v = (v << 8) | m_in[m_pos + i];
    if ((size == 2 && v < 64) || (size == 4 && v < 16384)) return MlsErrc::non_minimal_varint;
    m_pos += size;
    return static_cast<std::size_t>(v);
  }

  // The body of a vector<V>: its length, bounded by `max` and by the bytes left.
  Expected<ByteView, MlsErrc> opaque(std::size_t max) {
    auto n = varint();
    if (!n) return n.error();
    if (*n > left()) return MlsErrc::truncated;
    if (*n > max) return MlsErrc::too_long;
    auto out = m_in.subspan(m_pos, *n);
    m_pos += *n;
    return out;
  }
  Expected<Bytes, MlsErrc> opaque_bytes(std::size_t max) {
    auto v = opaque(max);
    if (!v) return v.error();
    return Bytes(v->begin(), v->end());
  }

 private:
  ByteView m_in;
  std::size_t m_pos = 0;
};

#define GH_MLS_TRY(var, expr)                                                           \
  auto var = (expr); /* NOLINT(bugprone-macro-parentheses): var is the declared name */ \
  if (!(var)) return (var).error()

Expected<std::vector<std::uint16_t>, MlsErrc> read_u16_list(Reader& r, std::size_t max_items) {
  GH_MLS_TRY(body, r.opaque(2 * max_items));
  if (body->size() % 2 != 0) return MlsErrc::odd_list_length;
  std::vector<std::uint16_t> out;
  out.reserve(body->size() / 2);
  for (std::size_t i = 0; i < body->size(); i += 2) {
    out.push_back(static_cast<std::uint16_t>(((*body)[i] << 8) | (*body)[i + 1]));
  }
  return out;
}

Expected<std::vector<Extension>, MlsErrc> read_extensions(Reader& r, const DecodeLimits& limits) {
  GH_MLS_TRY(body, r.opaque(limits.max_extensions * (4 + 4 + limits.max_extension_bytes)));
  Reader inner(*body);
  std::vector<Extension> out;
  while (!inner.at_end()) {
    if (out.size() == limits.max_extensions) return MlsErrc::too_long;
    GH_MLS_TRY(type, inner.u16());
    GH_MLS_TRY(data, inner.opaque_bytes(limits.max_extension_bytes));
    out.push_back({*type, std::move(*data)});
  }
  return out;
}

Expected<Credential, MlsErrc> read_credential(Reader& r, const DecodeLimits& limits) {
  Credential c;
  GH_MLS_TRY(type, r.u16());
  c.type = *type;
  if (c.type == credential_basic) {
    GH_MLS_TRY(identity, r.opaque_bytes(limits.max_identity_bytes));
    c.identity = std::move(*identity);
  } else if (c.type == credential_x509) {
    GH_MLS_TRY(body, r.opaque(limits.max_certificates * (4 + limits.max_certificate_bytes)));
    Reader inner(*body);
    while (!inner.at_end()) {
      if (c.certificates.size() == limits.max_certificates) return MlsErrc::too_long;
      GH_MLS_TRY(cert, inner.opaque_bytes(limits.max_certificate_bytes));
      c.certificates.push_back(std::move(*cert));
    }
  } else {
    // Other credential types carry data whose length the format does not give: unreadable.
    return MlsErrc::unsupported_credential;
  }
  return c;
}

Expected<Capabilities, MlsErrc> read_capabilities(Reader& r, const DecodeLimits& limits) {
  Capabilities c;
  for (auto* list : {&c.versions, &c.cipher_suites, &c.extensions, &c.proposals, &c.credentials}) {
    GH_MLS_TRY(items, read_u16_list(r, limits.max_list_items));
    *list = std::move(*items);
  }
  return c;
}

Expected<LeafNode, MlsErrc> read_leaf_node(Reader& r, const DecodeLimits& limits) {
  LeafNode leaf;
  const auto start = r.position();
  GH_MLS_TRY(encryption_key, r.opaque_bytes(limits.max_key_bytes));
  leaf.encryption_key = std::move(*encryption_key);
  GH_MLS_TRY(signature_key, r.opaque_bytes(limits.max_key_bytes));
  leaf.signature_key = std::move(*signature_key);
  GH_MLS_TRY(credential, read_credential(r, limits));
  leaf.credential = std::move(*credential);
  GH_MLS_TRY(capabilities, read_capabilities(r, limits));
  leaf.capabilities = std::move(*capabilities);
  GH_MLS_TRY(source, r.u8());
  switch (*source) {
    case 1: {
      leaf.source = LeafNodeSource::key_package;
      GH_MLS_TRY(not_before, r.u64());
      GH_MLS_TRY(not_after, r.u64());
      leaf.lifetime = Lifetime{*not_before, *not_after};
      break;
    }
    case 2:
      leaf.source = LeafNodeSource::update;
      break;
    case 3: {
      leaf.source = LeafNodeSource::commit;
      GH_MLS_TRY(parent_hash, r.opaque_bytes(limits.max_key_bytes));
      leaf.parent_hash = std::move(*parent_hash);
      break;
    }
    default:
      return MlsErrc::invalid_leaf_source;
  }
  GH_MLS_TRY(extensions, read_extensions(r, limits));
  leaf.extensions = std::move(*extensions);
  const auto tbs = r.consumed_since(start);
  leaf.tbs.assign(tbs.begin(), tbs.end());
  GH_MLS_TRY(signature, r.opaque_bytes(limits.max_signature_bytes));
  leaf.signature = std::move(*signature);
  return leaf;
}

Expected<KeyPackage, MlsErrc> read_key_package(Reader& r, const DecodeLimits& limits) {
  KeyPackage kp;
  const auto start = r.position();
  GH_MLS_TRY(version, r.u16());
  kp.version = *version;
  GH_MLS_TRY(suite, r.u16());
  kp.cipher_suite = *suite;
  GH_MLS_TRY(init_key, r.opaque_bytes(limits.max_key_bytes));
  kp.init_key = std::move(*init_key);
  GH_MLS_TRY(leaf, read_leaf_node(r, limits));
  kp.leaf_node = std::move(*leaf);
  GH_MLS_TRY(extensions, read_extensions(r, limits));
  kp.extensions = std::move(*extensions);
  const auto tbs = r.consumed_since(start);
  kp.tbs.assign(tbs.begin(), tbs.end());
  GH_MLS_TRY(signature, r.opaque_bytes(limits.max_signature_bytes));
  kp.signature = std::move(*signature);
  return kp;
}

Expected<ContentType, MlsErrc> read_content_type(Reader& r) {
  GH_MLS_TRY(type, r.u8());
  if (*type < 1 || *type > 3) return MlsErrc::invalid_content_type;
  return static_cast<ContentType>(*type);
}

// FramedContent up to its content type: group_id, epoch, sender, authenticated_data.
Expected<MessageHeader, MlsErrc> read_public_header(Reader& r, const DecodeLimits& limits) {
  MessageHeader h;
  h.wire_format = WireFormat::public_message;
  GH_MLS_TRY(group_id, r.opaque_bytes(limits.max_group_id_bytes));
  h.group_id = std::move(*group_id);
  GH_MLS_TRY(epoch, r.u64());
  h.epoch = *epoch;
  GH_MLS_TRY(sender, r.u8());
  if (*sender < 1 || *sender > 4) return MlsErrc::invalid_sender_type;
  h.sender_type = static_cast<SenderType>(*sender);
  if (*h.sender_type == SenderType::member || *h.sender_type == SenderType::external) {
    GH_MLS_TRY(index, r.u32());
    h.sender_index = *index;
  }
  GH_MLS_TRY(authenticated_data, r.opaque(r.left()));
  (void)authenticated_data;
  GH_MLS_TRY(content_type, read_content_type(r));
  h.content_type = *content_type;
  return h;
}

Expected<MessageHeader, MlsErrc> read_private_message(Reader& r, const DecodeLimits& limits) {
  MessageHeader h;
  h.wire_format = WireFormat::private_message;
  GH_MLS_TRY(group_id, r.opaque_bytes(limits.max_group_id_bytes));
  h.group_id = std::move(*group_id);
  GH_MLS_TRY(epoch, r.u64());
  h.epoch = *epoch;
  GH_MLS_TRY(content_type, read_content_type(r));
  h.content_type = *content_type;
  for (int field = 0; field < 3; ++field) {  // authenticated_data, encrypted_sender_data, ciphertext
    GH_MLS_TRY(body, r.opaque(r.left()));
    (void)body;
  }
  return h;
}

Expected<Welcome, MlsErrc> read_welcome(Reader& r, const DecodeLimits& limits) {
  Welcome w;
  GH_MLS_TRY(suite, r.u16());
  w.cipher_suite = *suite;
  GH_MLS_TRY(secrets, r.opaque(r.left()));
  Reader inner(*secrets);
  while (!inner.at_end()) {
    if (w.new_members.size() == limits.max_welcome_secrets) return MlsErrc::too_long;
    GH_MLS_TRY(ref, inner.opaque_bytes(limits.max_key_bytes));
    GH_MLS_TRY(kem_output, inner.opaque(inner.left()));
    GH_MLS_TRY(ciphertext, inner.opaque(inner.left()));
    (void)kem_output;
    (void)ciphertext;
    w.new_members.push_back(std::move(*ref));
  }
  GH_MLS_TRY(group_info, r.opaque(r.left()));
  (void)group_info;
  return w;
}

#undef GH_MLS_TRY

}  // namespace

const char* to_string(MlsErrc code) noexcept {
  switch (code) {
    case MlsErrc::truncated:
      return "mls_truncated";
    case MlsErrc::trailing_bytes:
      return "mls_trailing_bytes";
    case MlsErrc::invalid_varint:
      return "mls_invalid_varint";
    case MlsErrc::non_minimal_varint:
      return "mls_non_minimal_varint";
    case MlsErrc::too_long:
      return "mls_too_long";
    case MlsErrc::unsupported_version:
      return "mls_unsupported_version";
    case MlsErrc::unknown_wire_format:
      return "mls_unknown_wire_format";
    case MlsErrc::wrong_wire_format:
      return "mls_wrong_wire_format";
    case MlsErrc::unsupported_credential:
      return "mls_unsupported_credential";
    case MlsErrc::invalid_leaf_source:
      return "mls_invalid_leaf_source";
    case MlsErrc::invalid_content_type:
      return "mls_invalid_content_type";
    case MlsErrc::invalid_sender_type:
      return "mls_invalid_sender_type";
    case MlsErrc::odd_list_length:
      return "mls_odd_list_length";
  }
  return "mls_unknown_error";
}

Expected<Message, MlsErrc> decode_message(ByteView input, const DecodeLimits& limits) {
  Reader r(input);
  auto version = r.u16();
  if (!version) return version.error();
  if (*version != protocol_mls10) return MlsErrc::unsupported_version;
  auto wire = r.u16();
  if (!wire) return wire.error();
  Message m;
  switch (*wire) {
    case 1: {
      m.wire_format = WireFormat::public_message;
      auto h = read_public_header(r, limits);
      if (!h) return h.error();
      m.header = std::move(*h);
      return m;  // the rest (content, signature, membership tag) is the members' to check
    }
    case 2: {
      m.wire_format = WireFormat::private_message;
      auto h = read_private_message(r, limits);
      if (!h) return h.error();
      m.header = std::move(*h);
      break;
    }
    case 3: {
      m.wire_format = WireFormat::welcome;
      auto w = read_welcome(r, limits);
      if (!w) return w.error();
      m.welcome = std::move(*w);
      break;
    }
    case 4:
      m.wire_format = WireFormat::group_info;
      return m;
    case 5: {
      m.wire_format = WireFormat::key_package;
      auto kp = read_key_package(r, limits);
      if (!kp) return kp.error();
      m.key_package = std::move(*kp);
      break;
    }
    default:
      return MlsErrc::unknown_wire_format;
  }
  if (!r.at_end()) return MlsErrc::trailing_bytes;
  return m;
}

Expected<KeyPackage, MlsErrc> decode_key_package_message(ByteView input, const DecodeLimits& limits) {
  // The envelope is checked before the body so a non-key-package is refused as such.
  Reader r(input);
  auto version = r.u16();
  if (!version) return version.error();
  if (*version != protocol_mls10) return MlsErrc::unsupported_version;
  auto wire = r.u16();
  if (!wire) return wire.error();
  if (*wire < 1 || *wire > 5) return MlsErrc::unknown_wire_format;
  if (*wire != static_cast<std::uint16_t>(WireFormat::key_package)) return MlsErrc::wrong_wire_format;
  auto kp = read_key_package(r, limits);
  if (!kp) return kp.error();
  if (!r.at_end()) return MlsErrc::trailing_bytes;
  return kp;
}

Expected<KeyPackage, MlsErrc> decode_key_package(ByteView input, const DecodeLimits& limits) {
  Reader r(input);
  auto kp = read_key_package(r, limits);
  if (!kp) return kp.error();
  if (!r.at_end()) return MlsErrc::trailing_bytes;
  return kp;
}

Bytes encode_varint(std::uint32_t length) {
  if (length < 64) return {static_cast<std::uint8_t>(length)};
  if (length < 16384)
    return {static_cast<std::uint8_t>(0x40u | (length >> 8)), static_cast<std::uint8_t>(length & 0xffu)};
  return {static_cast<std::uint8_t>(0x80u | ((length >> 24) & 0x3fu)),
          static_cast<std::uint8_t>((length >> 16) & 0xffu), static_cast<std::uint8_t>((length >> 8) & 0xffu),
          static_cast<std::uint8_t>(length & 0xffu)};
}

}  // namespace gh::mls
