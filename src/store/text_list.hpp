#pragma once
// Short lists of names (roles, addresses) kept in one text column, comma-joined. The items never
// hold a comma (the contexts that use this validate them so); empty items are not kept.
#include <string>
#include <string_view>
#include <vector>

namespace gh::store {

/// The items joined with commas; "" for none.
std::string join_text_list(const std::vector<std::string>& items);

/// The items of a column written by join_text_list, in order, without empty ones.
std::vector<std::string> split_text_list(std::string_view joined);

}  // namespace gh::store
