// `--group-by`: group keys from file names. Alone in this file because <regex> is the largest
// single cost of compiling train.cpp.
// GCC 12 at -O3 reports a false -Wrestrict inside std::string code that <regex> inlines here
// (GCC bug 105329); nothing in this file copies overlapping memory.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <moodnet/data/groups.hpp>

#include "common.hpp"

namespace moodnet::cli {

std::vector<std::string> file_groups(const std::vector<fs::path>& files, const std::string& regex,
                                     int64_t* unmatched) {
  return group_keys(files, regex, unmatched);
}

}  // namespace moodnet::cli
