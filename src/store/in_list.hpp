#pragma once
// Statements over a list of values, a chunk at a time: `... WHERE x IN ($2, $3, ...)`, with the
// placeholders numbered after the statement's own leading parameters.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace gh::store {

/// Calls f(in_list, params) for each chunk of at most `per_statement` of `values`, in order:
/// `in_list` is "$k, $k+1, ..." for the chunk, `params` the `leading` parameters ($1 to $k-1)
/// followed by the chunk's values. f may append parameters of its own after them. Nothing is
/// called for no values.
template <class F>
void for_each_in_list(const std::vector<std::string>& values, std::size_t per_statement,
                      const std::vector<Value>& leading, F&& f) {
  per_statement = std::max<std::size_t>(per_statement, 1);
  for (std::size_t from = 0; from < values.size(); from += per_statement) {
    const std::size_t n = std::min(per_statement, values.size() - from);
    std::string in_list;
    std::vector<Value> params;
    params.reserve(leading.size() + n + 1);
    params.insert(params.end(), leading.begin(), leading.end());
    for (std::size_t i = 0; i < n; ++i) {
      in_list += (i == 0 ? "$" : ", $") + std::to_string(leading.size() + i + 1);
      params.emplace_back(values[from + i]);
    }
    f(in_list, params);
  }
}

}  // namespace gh::store
