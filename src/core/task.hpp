#pragma once
// The one coroutine type of gatehouse. Only this light header of Asio is exposed here; the rest of
// Asio stays in the .cpp files that need it (and is compiled once, in asio_impl.cpp).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace gh {

/// A coroutine returning T, run on an Asio executor.
template <class T = void>
using Task = boost::asio::awaitable<T>;

/// The executor type components receive.
using Executor = boost::asio::any_io_executor;

}  // namespace gh
