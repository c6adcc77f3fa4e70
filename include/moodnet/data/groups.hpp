// Group keys from file names (who is in a photo), for group_split() in folder.hpp. Kept out of
// <moodnet/moodnet.hpp> because <regex> alone costs a noticeable share of its compile time:
// include <moodnet/data/groups.hpp> to use it.
#pragma once

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "../config.hpp"

namespace moodnet {

// Group keys from file names: the first capture group of `pattern` (or the whole match when it
// has none) searched in each file's name, e.g. "^(S[0-9]+)_" gives the CK+ subject "S005".
// A file whose name does not match is its own group (keyed by its path) and is counted in
// *unmatched when given. Throws on an invalid pattern, naming it.
inline std::vector<std::string> group_keys(const std::vector<std::filesystem::path>& files,
                                           const std::string& pattern,
                                           int64_t* unmatched = nullptr) {
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    MOODNET_FAIL("group pattern '", pattern, "' is not a valid regular expression: ", e.what());
  }
  std::vector<std::string> keys;
  keys.reserve(files.size());
  int64_t misses = 0;
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    std::smatch m;
    if (std::regex_search(name, m, re)) {
      keys.push_back(m.size() > 1 && m[1].matched ? m[1].str() : m[0].str());
    } else {
      keys.push_back("\x01" + f.string());  // cannot collide with a captured key
      ++misses;
    }
  }
  if (unmatched) *unmatched = misses;
  return keys;
}

}  // namespace moodnet
