// Asio's separate compilation: its implementation is compiled here once instead of in every
// translation unit that includes it (BOOST_ASIO_SEPARATE_COMPILATION is set for all targets).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
