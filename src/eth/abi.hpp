#pragma once
// The Solidity contract ABI: type strings, values, encoding and strict decoding, function selectors,
// event topics and event log decoding. Decoding follows ethers v6's AbiCoder on structure (offsets,
// lengths, bounds; a 64x inflation limit where ethers has 1024x) and is stricter on values: every padding byte must
// be zero and every value canonical (bool is 0 or 1, uintN/intN fit N bits sign-extended, bytesN
// right-padded with zeros, string valid UTF-8), as data written by Solidity always is.
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/expected.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"

namespace gh::eth {

/// Why a type, signature, value or encoding was refused. `to_string` gives the stable snake_case
/// form ("abi_non_canonical"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] AbiErrc{
    type_invalid,        ///< a type string that is not a Solidity ABI type
    signature_invalid,   ///< a signature or JSON fragment that is not well formed
    value_invalid,       ///< a value of the wrong kind or count for its type
    value_out_of_range,  ///< an integer that does not fit its type
    too_large,           ///< data read through offsets exceeds 64 times its size
    out_of_bounds,       ///< a read past the end of the data
    offset_invalid,      ///< an offset or length beyond any possible data
    length_invalid,      ///< an array length the data cannot hold
    invalid_utf8,        ///< a decoded string that is not valid UTF-8
    non_canonical,       ///< dirty padding, an integer not sign-extended, a bool other than 0 or 1, ...
    log_mismatch,        ///< a log whose topics do not match the event
};

/// "abi_" followed by the code's name, e.g. "abi_out_of_bounds".
const char* to_string(AbiErrc code) noexcept;

/// A parsed ABI type such as `uint256`, `bytes32`, `(address,string)[]` or `int8[3][]`.
struct AbiType {
  /// The kind of type; arrays and tuples carry their element/component types.
  enum class Kind { uint_, int_, address, bool_, fixed_bytes, bytes, string, array, tuple };

  Kind kind = Kind::uint_;            ///< what the type is
  unsigned bits = 256;                ///< N of uintN/intN
  unsigned size = 0;                  ///< N of bytesN
  std::optional<std::size_t> length;  ///< array length, nullopt for T[]
  std::vector<AbiType> components;    ///< tuple members, or the one element type of an array
  std::vector<std::string> names;     ///< tuple member names when known (may be empty)

  /// True when the encoding has a tail (bytes, string, T[], or anything containing them).
  bool is_dynamic() const noexcept;
  /// The canonical type string used in signatures: "uint256", "(address,bytes)[2]".
  std::string canonical() const;
  /// Bytes the type occupies in a head: 32 for dynamic types, its full size for static ones.
  std::size_t head_size() const noexcept;
  /// Structural equality (names ignored).
  bool operator==(const AbiType& o) const noexcept;
};

/// Parses a type string. Accepts `uint`/`int` as aliases of `uint256`/`int256`, tuples in
/// parentheses (optionally spelled `tuple(...)`) nested to any depth up to 32, and array
/// suffixes `[k]` (k >= 1) and `[]`. Error: "abi_type_invalid" naming the position.
Expected<AbiType, AbiErrc> parse_abi_type(std::string_view text);

/// An integer value: a magnitude and a sign (only intN may be negative).
struct AbiInt {
  U256 magnitude;         ///< absolute value
  bool negative = false;  ///< true for values below zero
  /// Numeric equality (-0 equals 0).
  bool operator==(const AbiInt& o) const noexcept {
    return magnitude == o.magnitude && (negative == o.negative || magnitude.is_zero());
  }
};

struct AbiValue;
/// The members of a tuple or the elements of an array, in order.
using AbiValues = std::vector<AbiValue>;

/// A value of some AbiType: integers, addresses, bools, bytes (bytesN and bytes), strings, and
/// lists (arrays and tuples).
struct AbiValue {
  std::variant<AbiInt, Address, bool, Bytes, std::string, AbiValues> data;  ///< the value

  /// An unsigned integer.
  static AbiValue uint(U256 v) { return AbiValue{AbiInt{v, false}}; }
  /// A signed integer given as magnitude and sign.
  static AbiValue sint(U256 magnitude, bool negative) { return AbiValue{AbiInt{magnitude, negative}}; }
  /// An address.
  static AbiValue address(const Address& a) { return AbiValue{a}; }
  /// A bool.
  static AbiValue boolean(bool b) { return AbiValue{b}; }
  /// Bytes (for bytesN or bytes).
  static AbiValue bytes(Bytes b) { return AbiValue{std::move(b)}; }
  /// A UTF-8 string.
  static AbiValue string(std::string s) { return AbiValue{std::move(s)}; }
  /// A tuple or array.
  static AbiValue list(AbiValues v) { return AbiValue{std::move(v)}; }

  /// Deep equality.
  bool operator==(const AbiValue& o) const { return data == o.data; }
};

/// Encodes values as the tuple of `types` (function arguments, return data, event data). Errors:
/// "abi_value_invalid" (wrong shape or kind, wrong count or bytesN length) and
/// "abi_value_out_of_range" (an integer outside N bits).
Expected<Bytes, AbiErrc> abi_encode(const std::vector<AbiType>& types, const AbiValues& values);

/// Decodes `data` as the tuple of `types`; trailing bytes are allowed, as in calldata. Errors:
/// "abi_out_of_bounds" (a read past the end), "abi_offset_invalid" (an offset or length above
/// 2^53-1), "abi_length_invalid" (an array longer than the data could hold), "abi_too_large"
/// (more than 64x the data read through aliased offsets), "abi_non_canonical" (dirty padding,
/// a bool other than 0/1, an integer not fitting its N bits, an address with high bytes set),
/// "abi_invalid_utf8".
Expected<AbiValues, AbiErrc> abi_decode(const std::vector<AbiType>& types, ByteView data);

/// A named, possibly indexed, parameter of a function or event.
struct AbiParam {
  std::string name;      ///< may be empty
  AbiType type;          ///< the parameter's type
  bool indexed = false;  ///< event parameters only: carried in a topic
};

/// A function or event signature: a name and its parameters.
struct AbiSignature {
  std::string name;              ///< function or event name
  std::vector<AbiParam> params;  ///< in declaration order
  bool anonymous = false;        ///< events only: no topic 0

  /// "name(type1,type2)", the text hashed for selectors and topics.
  std::string canonical() const;
  /// The parameter types in order.
  std::vector<AbiType> types() const;
};

/// Parses "name(type [indexed] [paramName], ...)" (e.g. "Transfer(address indexed from, address
/// indexed to, uint256 value)"); an optional leading "function " or "event " is skipped. Error:
/// "abi_signature_invalid".
Expected<AbiSignature, AbiErrc> parse_abi_signature(std::string_view text);

/// Reads one ABI JSON fragment ({"type": "function"|"event", "name", "inputs": [{"name", "type",
/// "indexed", "components"}], "anonymous"}). Error: "abi_signature_invalid".
Expected<AbiSignature, AbiErrc> abi_signature_from_json(const boost::json::value& fragment);

/// The 4-byte selector of a function signature (parsed and canonicalized first).
Expected<FixedBytes<4>, AbiErrc> function_selector(std::string_view signature);
/// The 4-byte selector of a parsed signature.
FixedBytes<4> function_selector(const AbiSignature& signature);
/// Topic 0 of an event signature (parsed and canonicalized first, `indexed` ignored).
Expected<Hash32, AbiErrc> event_topic(std::string_view signature);
/// Topic 0 of a parsed event.
Hash32 event_topic(const AbiSignature& event);

/// Calldata for a call: the selector followed by the encoded arguments.
Expected<Bytes, AbiErrc> encode_function_call(const AbiSignature& function, const AbiValues& args);

/// One decoded parameter of an event log.
struct AbiLogValue {
  std::string name;     ///< the parameter name (may be empty)
  AbiValue value;       ///< the value; for a hashed parameter, its 32-byte topic as bytes
  bool hashed = false;  ///< an indexed dynamic parameter: only keccak256 of its encoding is known
};

/// Decodes a log of `event`: topic 0 must be the event's topic (unless anonymous), indexed
/// parameters come from the following topics in order, the others from `data`. Errors:
/// "abi_log_mismatch" (wrong topic 0 or topic count), and abi_decode's errors.
Expected<std::vector<AbiLogValue>, AbiErrc> decode_event_log(const AbiSignature& event,
                                                             const std::vector<Hash32>& topics, ByteView data);

/// Reads a value of `type` from JSON: integers as JSON integers or decimal or 0x-hex strings
/// (negative with a leading '-'), addresses and bytes as hex strings, tuples and arrays as arrays.
/// Error: "abi_value_invalid".
Expected<AbiValue, AbiErrc> abi_value_from_json(const AbiType& type, const boost::json::value& json);
/// Renders a value of `type` as JSON: integers as decimal strings, addresses EIP-55, bytes as hex.
boost::json::value abi_value_to_json(const AbiType& type, const AbiValue& value);

}  // namespace gh::eth
