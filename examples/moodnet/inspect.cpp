// `moodnet inspect DIR`: the dataset health check (its own translation unit: it needs only the
// data headers, not the whole library).
#include <filesystem>
#include <iostream>
#include <moodnet/data/inspect.hpp>

#include "commands.hpp"

namespace moodnet::cli {

int run_inspect(const std::string& dir, bool json, int64_t max_pixels) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw UsageError("inspect: data folder '" + dir + "' does not exist or is not a folder");
  InspectOptions opt;
  opt.max_pixels = max_pixels;
  const DatasetReport report = inspect_dataset(dir, opt);
  print_report(std::cout, report);
  if (json) std::cout << to_json(report).dump() << "\n";
  if (report.usable() == 0) {
    std::cerr << "error: '" << dir << "' holds no usable image (" << report.found()
              << " image files found, " << report.unreadable.size() << " unreadable, "
              << report.unlabelled.size()
              << " outside class folders; expected DIR/CLASS/*.jpg or DIR/SPLIT/CLASS/*.jpg)\n";
    return 1;
  }
  return 0;
}

}  // namespace moodnet::cli
