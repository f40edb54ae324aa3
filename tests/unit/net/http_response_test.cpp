// An HTTP response as the bytes the server sends for it.
#include <catch2/catch.hpp>

#include "core/net/http_response.hpp"

using tandem::net::HttpResponse;
using tandem::net::serialize_response;

TEST_CASE("a response is its status line, headers, length and body in one buffer", "[net][http]") {
  HttpResponse r{200, "application/json", R"({"a":1})", {{"Access-Control-Allow-Origin", "*"}}};
  CHECK(serialize_response(r, 11, true, false) ==
        "HTTP/1.1 200 OK\r\nServer: tandem\r\nContent-Type: application/json\r\n"
        "Access-Control-Allow-Origin: *\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
}

TEST_CASE("persistence is worded per HTTP version", "[net][http]") {
  HttpResponse r{404, "text/plain; charset=utf-8", "Not found\n", {}};
  const auto close11 = serialize_response(r, 11, false, false);
  CHECK(close11.starts_with("HTTP/1.1 404 Not Found\r\n"));
  CHECK(close11.find("Connection: close\r\n") != std::string::npos);
  CHECK(serialize_response(r, 11, true, false).find("Connection:") == std::string::npos);
  const auto keep10 = serialize_response(r, 10, true, false);
  CHECK(keep10.starts_with("HTTP/1.0 404 Not Found\r\n"));
  CHECK(keep10.find("Connection: keep-alive\r\n") != std::string::npos);
  CHECK(serialize_response(r, 10, false, false).find("Connection:") == std::string::npos);
}

TEST_CASE("HEAD gets the length of the body without the body, 204 gets neither", "[net][http]") {
  HttpResponse r{200, "application/json", R"({"status":"ok"})", {}};
  const auto head = serialize_response(r, 11, true, true);
  CHECK(head.ends_with("Content-Length: 15\r\n\r\n"));
  HttpResponse none{204, "application/json", "", {{"Allow", "GET, HEAD, OPTIONS"}}};
  CHECK(serialize_response(none, 11, true, false) ==
        "HTTP/1.1 204 No Content\r\nServer: tandem\r\nAllow: GET, HEAD, OPTIONS\r\n\r\n");
}

TEST_CASE("a header holding CR or LF is left out", "[net][http]") {
  HttpResponse r{302, "text/plain; charset=utf-8", "Found", {{"Location", "/x\r\nSet-Cookie: a=b"}, {"X-Ok", "1"}}};
  const auto bytes = serialize_response(r, 11, true, false);
  CHECK(bytes.find("Set-Cookie") == std::string::npos);
  CHECK(bytes.find("Location") == std::string::npos);
  CHECK(bytes.find("X-Ok: 1\r\n") != std::string::npos);
}
