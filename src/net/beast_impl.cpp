// Beast's separate compilation: its implementation (including the test stream used by the session
// tests) is compiled here once (BOOST_BEAST_SEPARATE_COMPILATION is set for all targets).
#include <boost/beast/src.hpp>
