#pragma once
// Expected<T, E>: a value or a decoder's own error code. Pure decoders (eth, graphql, a context's
// model) return an `enum class` E rather than an API Error: what a failure means to a client (its
// HTTP status, API code and message) is decided by the context that calls them, at its edge.
#include <cassert>
#include <optional>
#include <utility>
#include <variant>

namespace gh {

/// A value of T, or the code E of why there is none.
template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : m_data(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Expected(E error) : m_data(std::in_place_index<1>, error) {}             // NOLINT(google-explicit-constructor)

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

  E error() const {
    assert(!has_value());
    return std::get<1>(m_data);
  }

 private:
  std::variant<T, E> m_data;
};

/// Success without a value, or the code E of the failure.
template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  Expected(E error) : m_error(error) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return !m_error.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  E error() const {
    assert(m_error.has_value());
    return *m_error;
  }

 private:
  std::optional<E> m_error;
};

}  // namespace gh
