#pragma once
// A small Expected<T, E> for expected failures (C++23's std::expected is not
// available with -std=c++20 on GCC 12). Errors are values, never exceptions.
//
//   Expected<int, std::string> parse(std::string_view s);
//   auto r = parse("12");
//   if (!r) log(r.error()); else use(*r);
#include <cassert>
#include <utility>
#include <variant>

namespace pm {

template <class E>
struct Unexpected {
  E value;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.value)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace pm
