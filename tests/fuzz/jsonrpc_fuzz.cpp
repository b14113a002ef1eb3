// JSON-RPC answers from a hostile provider: envelopes (single and batch) and the typed eth_*
// decoders must reject garbage without a crash or a sanitizer report, and the strict quantity and
// data decoders must accept only text they would render the same way.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eth/hex.hpp"
#include "rpc/eth_types.hpp"
#include "rpc/json_rpc.hpp"

namespace {

void decode_typed(const boost::json::value& value) {
  (void)gh::rpc::parse_block_header(value);
  (void)gh::rpc::parse_log(value);
  (void)gh::rpc::parse_logs(value);
  (void)gh::rpc::parse_receipt(value);
  (void)gh::rpc::parse_fee_history(value);
  (void)gh::rpc::parse_quantity_value(value);
  (void)gh::rpc::parse_hash_value(value);
  (void)gh::rpc::parse_data_value(value);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void check_scalars(std::string_view text) {
  // Quantities have no leading zero, so they render back to the input up to the digits' case
  // (parse_quantity accepts uppercase hex digits; we render lowercase).
  if (const auto quantity = gh::rpc::parse_quantity(text)) {
    if (quantity->to_hex() != lowercase(text)) __builtin_trap();
    const auto small = gh::rpc::parse_quantity_u64(text);
    if (quantity->fits_u64() != small.has_value()) __builtin_trap();
    if (small && gh::rpc::to_quantity(*small) != lowercase(text)) __builtin_trap();
  }
  if (const auto bytes = gh::rpc::parse_data(text)) {
    if (gh::eth::to_hex(*bytes) != lowercase(text)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const auto response = gh::rpc::parse_response(body, 1);
  if (response) decode_typed(*response);
  const auto batch = gh::rpc::parse_batch_response(body, 1, 3);
  if (batch) {
    if (batch->size() != 3) __builtin_trap();
    for (const auto& answer : *batch) {
      if (answer) decode_typed(*answer);
    }
  }

  boost::system::error_code ec;
  const boost::json::value document = boost::json::parse(body, ec);
  if (!ec) {
    decode_typed(document);
    (void)gh::rpc::parse_error_object(document);
  }
  check_scalars(body);
  return 0;
}
