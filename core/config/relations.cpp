#include "core/config/merge.hpp"

namespace tandem::config {

namespace {

// `first` must stand in `relation` to `second`, e.g. ping_interval "less than" idle_timeout.
struct Relation {
  std::string_view first;   // "section.key"
  std::string_view second;
  std::string_view wording;  // "less than"
  bool (*holds)(const Value& first, const Value& second);
};

bool less_duration(const Value& a, const Value& b) { return std::get<Duration>(a) < std::get<Duration>(b); }
bool at_most_integer(const Value& a, const Value& b) {
  return std::get<std::int64_t>(a) <= std::get<std::int64_t>(b);
}
bool off_or_different(const Value& a, const Value& b) {
  return std::get<std::int64_t>(a) == 0 || std::get<std::int64_t>(a) != std::get<std::int64_t>(b);
}

constexpr Relation kRelations[] = {
    {"limits.ping_interval", "limits.idle_timeout", "less than", &less_duration},
    {"audit.batch_size", "audit.queue_capacity", "at most", &at_most_integer},
    {"server.internal_port", "server.port", "0 or different from", &off_or_different},
};

const KeySpec& lookup(std::string_view dotted) {
  const auto dot = dotted.find('.');
  return *find_key(dotted.substr(0, dot), dotted.substr(dot + 1));
}

}  // namespace

void check_relations(Config& config, const std::vector<Origin>& origins) {
  for (const auto& relation : kRelations) {
    const KeySpec& a = lookup(relation.first);
    const KeySpec& b = lookup(relation.second);
    const Value va = read(a, config);
    const Value vb = read(b, config);
    if (relation.holds(va, vb)) continue;
    const Origin& oa = origins[index_of(a)];
    const Origin& ob = origins[index_of(b)];
    // Blame the key set by the later source: that is the one the operator just changed.
    const KeySpec& blamed = ob.source > oa.source ? b : a;
    const Origin& blamed_origin = ob.source > oa.source ? ob : oa;
    throw ConfigError(message_prefix(blamed_origin, blamed) + ": " + dotted_name(a) + " (" +
                      display(va) + ", " + describe(oa) + ") must be " + std::string(relation.wording) +
                      " " + dotted_name(b) + " (" + display(vb) + ", " + describe(ob) + ")");
  }
}

}  // namespace tandem::config
