#include "core/loadtest/report_path.hpp"

namespace tandem::loadtest {

const boost::json::value* find_path(const boost::json::value& doc, std::initializer_list<std::string_view> path) {
  const boost::json::value* at = &doc;
  for (const auto key : path) {
    const auto* o = at->if_object();
    if (!o) return nullptr;
    at = o->if_contains(key);
    if (!at) return nullptr;
  }
  return at;
}

double number_at(const boost::json::value& doc, std::initializer_list<std::string_view> path) {
  const auto* v = find_path(doc, path);
  return v && v->is_number() ? v->to_number<double>() : 0.0;
}

}  // namespace tandem::loadtest
