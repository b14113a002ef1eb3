// EIP-712 typed data from arbitrary JSON (the seeds are real documents): parsing, type checks,
// encodeType, encodeData and the digest must reject garbage without a crash or a sanitizer report.
// Whatever is accepted must agree with the definitions the functions compose: typeHash is the
// keccak of encodeType, encodeData starts with typeHash and is one word per member, hashStruct is
// the keccak of encodeData, the digest is keccak(0x1901 ‖ domainSeparator ‖ hashStruct), and a
// document serialized and parsed again gives the same digest.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eth/eip712.hpp"
#include "eth/keccak.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

boost::json::value to_json(const gh::eth::Eip712TypedData& d) {
  boost::json::object types;
  for (const auto& entry : d.types) {
    boost::json::array fields;
    for (const auto& f : entry.second) fields.push_back(boost::json::object{{"name", f.name}, {"type", f.type}});
    types[entry.first] = std::move(fields);
  }
  return boost::json::object{
      {"types", std::move(types)}, {"primaryType", d.primary_type}, {"domain", d.domain}, {"message", d.message}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  const auto json = boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, options);
  if (ec) return 0;
  const auto doc = gh::eth::parse_typed_data(json);
  if (!doc) return 0;
  check(gh::eth::eip712_check_types(doc->types).has_value());

  const auto type_text = gh::eth::eip712_encode_type(doc->types, doc->primary_type);
  const auto type_hash = gh::eth::eip712_type_hash(doc->types, doc->primary_type);
  check(type_text.has_value() == type_hash.has_value());
  if (type_text) {
    check(type_text->rfind(doc->primary_type + "(", 0) == 0);
    check(gh::eth::keccak256(std::string_view(*type_text)) == *type_hash);
  }

  const auto encoded = gh::eth::eip712_encode_data(doc->types, doc->primary_type, doc->message);
  const auto hashed = gh::eth::eip712_hash_struct(doc->types, doc->primary_type, doc->message);
  check(encoded.has_value() == hashed.has_value());
  if (encoded) {
    check(type_hash.has_value());
    const auto members = doc->types.find(doc->primary_type);
    check(members != doc->types.end());
    check(encoded->size() == 32 * (1 + members->second.size()));
    check(std::equal(type_hash->bytes.begin(), type_hash->bytes.end(), encoded->begin()));
    check(gh::eth::keccak256(gh::eth::ByteView(*encoded)) == *hashed);
  }

  const auto digest = gh::eth::eip712_digest(*doc);
  if (!digest) return 0;
  const auto separator = gh::eth::eip712_domain_separator(*doc);
  check(separator.has_value());
  gh::eth::Bytes preimage{0x19, 0x01};
  preimage.insert(preimage.end(), separator->bytes.begin(), separator->bytes.end());
  if (doc->primary_type != "EIP712Domain") {
    check(hashed.has_value());
    preimage.insert(preimage.end(), hashed->bytes.begin(), hashed->bytes.end());
  }
  check(gh::eth::keccak256(gh::eth::ByteView(preimage)) == *digest);

  // Serialized and parsed again: the same document, the same digest.
  const auto again = gh::eth::parse_typed_data(boost::json::parse(boost::json::serialize(to_json(*doc))));
  check(again.has_value());
  const auto digest_again = gh::eth::eip712_digest(*again);
  check(digest_again.has_value() && *digest_again == *digest);
  return 0;
}
