// Result<T, E>: a value or an error, with the member names of C++23's std::expected
// (has_value, value, error, operator*, operator->), so that moving to std::expected is one alias.
//
// Nothing on the data path throws: a parser returns Result<Header, ParseError>, and the caller
// decides whether the error is counted, logged or mapped to an errno.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace tcpip {

// The error half, as std::unexpected: `return Unexpected(ParseError::Truncated);`
template <class E>
class Unexpected {
public:
    constexpr explicit Unexpected(E error) : error_(std::move(error)) {}
    constexpr const E& error() const& { return error_; }
    constexpr E&& error() && { return std::move(error_); }

private:
    E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Result {
public:
    using value_type = T;
    using error_type = E;

    constexpr Result(const T& value) : storage_(std::in_place_index<0>, value) {}
    constexpr Result(T&& value) : storage_(std::in_place_index<0>, std::move(value)) {}
    template <class G>
    constexpr Result(Unexpected<G> error) : storage_(std::in_place_index<1>, E(std::move(error).error())) {}

    constexpr bool has_value() const { return storage_.index() == 0; }
    constexpr explicit operator bool() const { return has_value(); }

    constexpr T& value() & { assert(has_value()); return std::get<0>(storage_); }
    constexpr const T& value() const& { assert(has_value()); return std::get<0>(storage_); }
    constexpr T&& value() && { assert(has_value()); return std::get<0>(std::move(storage_)); }
    constexpr const E& error() const { assert(!has_value()); return std::get<1>(storage_); }

    constexpr T& operator*() & { return value(); }
    constexpr const T& operator*() const& { return value(); }
    constexpr T&& operator*() && { return std::move(*this).value(); }
    constexpr T* operator->() { return &value(); }
    constexpr const T* operator->() const { return &value(); }

    template <class U>
    constexpr T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, E> storage_;
};

// Result<void, E>: success carries nothing.
template <class E>
class [[nodiscard]] Result<void, E> {
public:
    using value_type = void;
    using error_type = E;

    constexpr Result() = default;
    template <class G>
    constexpr Result(Unexpected<G> error) : ok_(false), error_(E(std::move(error).error())) {}

    constexpr bool has_value() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr void value() const { assert(ok_); }
    constexpr const E& error() const { assert(!ok_); return error_; }

private:
    bool ok_ = true;
    E error_{};
};

}  // namespace tcpip
