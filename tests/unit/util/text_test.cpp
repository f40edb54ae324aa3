#include <catch2/catch.hpp>

#include "core/util/text.hpp"

using namespace tandem::util;

TEST_CASE("utf-8 validation rejects ill-formed sequences", "[util]") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("\xC3\xA9t\xC3\xA9"));                // été
  CHECK(is_valid_utf8("\xF0\x9F\x8E\xAC"));                  // 🎬
  CHECK_FALSE(is_valid_utf8("\xC3"));                        // truncated
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));                    // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));                // surrogate
  CHECK_FALSE(is_valid_utf8("\xFF"));
}

TEST_CASE("sanitize replaces each bad byte with U+FFFD", "[util]") {
  CHECK(sanitize_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(is_valid_utf8(sanitize_utf8("\xC0\xAF\xED\xA0\x80")));
}

TEST_CASE("display names lose control characters, surrounding space and excess length", "[util]") {
  CHECK(clean_display_name("  Ann\n ", 50) == "Ann");
  CHECK(clean_display_name("A\x01n\x7Fn", 50) == "Ann");
  CHECK(clean_display_name("\xE3\x80\x80" "Bob\xC2\xA0", 50) == "Bob");  // ideographic space, NBSP
  CHECK(clean_display_name(std::string(60, 'x'), 50) == std::string(50, 'x'));
  // Cut at 50 code points, not bytes: 60 × 'é' becomes 50 × 'é'.
  std::string accents;
  for (int i = 0; i < 60; ++i) accents += "\xC3\xA9";
  CHECK(count_code_points(clean_display_name(accents, 50)) == 50);
  // A cut that leaves trailing space trims again.
  CHECK(clean_display_name(std::string(49, 'x') + "  yy", 50) == std::string(49, 'x'));
  CHECK(clean_display_name(" \t\n", 50).empty());
}

TEST_CASE("control characters are found by code point", "[util]") {
  CHECK(has_control_chars("a\tb"));
  CHECK(has_control_chars("a\xC2\x85" "b"));  // U+0085 NEL is Cc
  CHECK_FALSE(has_control_chars("room/with:{odd}*chars"));
}

TEST_CASE("edit distance counts insertions, deletions and substitutions", "[util]") {
  CHECK(edit_distance("serve", "serve") == 0);
  CHECK(edit_distance("sevre", "serve") == 2);
  CHECK(edit_distance("prot", "port") == 2);
  CHECK(edit_distance("", "rooms") == 5);
  CHECK(edit_distance("migrat", "migrate") == 1);
}
