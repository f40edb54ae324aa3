// The single translation unit that holds Boost.Asio's and Boost.Beast's compiled code.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
