#pragma once
// EIP-712 typed structured data hashing, from the JSON form wallets sign with
// eth_signTypedData_v4: {"types", "primaryType", "domain", "message"}. Type rules follow ethers 6's
// TypedDataEncoder (the reference of our conformance vectors): `uint`/`int` mean 256 bits, field
// names are unique per struct, every referenced type must be defined, and type graphs are acyclic.
#include <boost/json/value.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// Why typed data cannot be hashed. `to_string` gives the stable snake_case form
/// (type_unknown); what a failure means to a client is the caller's call.
enum class [[nodiscard]] Eip712Errc{
    malformed,      ///< not the standard JSON shape, or a domain key that is not a standard field
    type_unknown,   ///< a member or primary type that is neither atomic, dynamic nor defined
    types_invalid,  ///< duplicate names, bad widths, or a type that reaches itself
    field_missing,  ///< a value lacks a member of its type
    value_invalid,  ///< wrong JSON kind, integer out of range, wrong bytesN or array length, bad address
};

/// "eip712_" followed by the code's name, e.g. "eip712_value_invalid".
const char* to_string(Eip712Errc code) noexcept;

/// One member of a struct type: `{"name": "wallet", "type": "address"}`.
struct Eip712Field {
  std::string name;  ///< member name
  std::string type;  ///< atomic, dynamic, struct or array type name, e.g. "Person[2][]"
};

/// Struct types by name, each with its members in declaration order.
using Eip712Types = std::map<std::string, std::vector<Eip712Field>, std::less<>>;

/// A typed-data document as wallets receive it.
struct Eip712TypedData {
  Eip712Types types;           ///< may or may not contain "EIP712Domain"
  std::string primary_type;    ///< the type of `message`
  boost::json::object domain;  ///< values for the EIP712Domain fields
  boost::json::value message;  ///< the value of `primary_type`
};

/// Reads the standard JSON form. Errors: malformed (shape), and the type checks of
/// `eip712_check_types`.
Expected<Eip712TypedData, Eip712Errc> parse_typed_data(const boost::json::value& json);

/// Checks a set of types: every member type is atomic, dynamic, an array or a defined struct
/// (type_unknown); names are unique and widths valid, and no type reaches itself
/// (types_invalid).
Expected<void, Eip712Errc> eip712_check_types(const Eip712Types& types);

/// encodeType: "Mail(Person from,Person to,string contents)Person(string name,address wallet)",
/// the type followed by every struct it references, sorted by name.
Expected<std::string, Eip712Errc> eip712_encode_type(const Eip712Types& types, std::string_view type_name);

/// typeHash = keccak256(encodeType).
Expected<Hash32, Eip712Errc> eip712_type_hash(const Eip712Types& types, std::string_view type_name);

/// encodeData: typeHash followed by one 32-byte word per member (strings, bytes, structs and
/// arrays hashed). Errors: field_missing, value_invalid (wrong JSON kind, integer
/// out of range, wrong bytesN or array length, bad address), and the type errors.
Expected<Bytes, Eip712Errc> eip712_encode_data(const Eip712Types& types, std::string_view type_name,
                                               const boost::json::value& value);

/// hashStruct = keccak256(encodeData).
Expected<Hash32, Eip712Errc> eip712_hash_struct(const Eip712Types& types, std::string_view type_name,
                                                const boost::json::value& value);

/// The domain separator: hashStruct of the domain as "EIP712Domain", using the document's
/// EIP712Domain type when present, else the standard fields present in the domain (name, version,
/// chainId, verifyingContract, salt, in that order); another key is malformed.
Expected<Hash32, Eip712Errc> eip712_domain_separator(const Eip712TypedData& data);

/// The digest a wallet signs: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)); when
/// the primary type is EIP712Domain itself, the message hash is omitted (eth_signTypedData_v4).
Expected<Hash32, Eip712Errc> eip712_digest(const Eip712TypedData& data);

}  // namespace gh::eth
