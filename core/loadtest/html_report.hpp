#pragma once

// `--html FILE`: the run as one self-contained HTML page (inline CSS and SVG, no scripts, no
// network resources), drawn from the JSON report: the verdict, the generator's health, the
// summary and threshold tables, and plots over time (latency percentiles, clients, throughput,
// errors, the generator's lag and CPU), with the stage boundaries marked.
//
// The plots are written by hand as SVG polylines: Debian packages no C++ charting library that
// writes SVG without a display or a browser.

#include <string>

#include <boost/json/fwd.hpp>

namespace tandem::loadtest {

// The page for `report` (the document report_json() builds). Missing fields are drawn empty.
std::string html_report(const boost::json::value& report);

// Colours of the plotted lines, one per line and never reused, so that a test (or a person) can
// tell from the picture which plot was drawn.
namespace plot_colour {
inline constexpr const char* kBroadcastP50 = "#1f77b4";
inline constexpr const char* kBroadcastP99 = "#d62728";
inline constexpr const char* kStatusP99 = "#ff7f0e";
inline constexpr const char* kPlanned = "#7f7f7f";
inline constexpr const char* kConnected = "#2ca02c";
inline constexpr const char* kFramesOut = "#17becf";
inline constexpr const char* kFramesIn = "#bcbd22";
inline constexpr const char* kErrors = "#8c564b";
inline constexpr const char* kSendLag = "#9467bd";
inline constexpr const char* kLoopLag = "#e377c2";
inline constexpr const char* kWriteWait = "#393b79";
inline constexpr const char* kCpu = "#637939";
}  // namespace plot_colour

}  // namespace tandem::loadtest
