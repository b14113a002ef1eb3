#pragma once
// Result<T>: a value or an Error. libstdc++ 12 has no std::expected in C++20, so this is the small
// subset we use: construction from either side, has_value/operator bool, value(), error().
#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/error.hpp"

namespace gh {

/// A value of T, or the Error that prevented it.
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : m_data(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : m_data(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return m_data.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(m_data);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(m_data);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(m_data));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(m_data);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(m_data));
  }

 private:
  std::variant<T, Error> m_data;
};

/// Success without a value, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_failed(true) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return !m_failed; }
  explicit operator bool() const noexcept { return !m_failed; }
  const Error& error() const& {
    assert(m_failed);
    return m_error;
  }
  Error&& error() && {
    assert(m_failed);
    return std::move(m_error);
  }

 private:
  Error m_error;
  bool m_failed = false;
};

/// The successful empty result.
inline Result<void> ok() {
  return {};
}

}  // namespace gh
