// Image folders laid out as root/<class>/**/<image> (Keras image_dataset_from_directory), and
// deterministic stratified train/validation/test splits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../core/random.hpp"

namespace moodnet {

// Every image found under root, in Keras order: by class (class_names order), then by folder
// and file name; labels[i] is the index into class_names of files[i].
struct ImageFolder {
  std::filesystem::path root;
  std::vector<std::string> class_names;
  std::vector<std::filesystem::path> files;
  std::vector<int> labels;

  int64_t size() const { return static_cast<int64_t>(files.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  // Number of files per class.
  std::vector<int64_t> class_counts() const {
    std::vector<int64_t> n(class_names.size(), 0);
    for (int l : labels) ++n[static_cast<size_t>(l)];
    return n;
  }
};

// The file extensions scan_image_folder accepts (compared case-insensitively).
inline const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> exts{".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tga"};
  return exts;
}

inline bool has_image_extension(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  });
  const auto& exts = image_extensions();
  return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

// Scans dir the way Keras' image_dataset_from_directory(labels="inferred") does:
// - classes: the sorted names of dir's immediate sub-folders (hidden ones, starting with '.',
//   skipped), or `classes` in the given order, each of which must be a sub-folder of dir;
// - files: every regular file (or link to one) below a class folder, at any depth, whose
//   extension is an image extension; ordered by containing folder, then file name. Links to
//   folders are not followed (no symlink loops); unreadable folders are skipped.
// Throws moodnet::Error when dir is missing or not a folder, when there are fewer than 2
// classes, or when no image is found at all.
inline ImageFolder scan_image_folder(const std::filesystem::path& dir,
                                     const std::vector<std::string>& classes = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  MOODNET_CHECK(fs::exists(st), "scan_image_folder: ", dir.string(), " does not exist");
  MOODNET_CHECK(fs::is_directory(st), "scan_image_folder: ", dir.string(), " is not a directory");

  std::vector<std::string> subdirs;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->is_directory(e2)) subdirs.push_back(name);
  }
  MOODNET_CHECK(!ec, "scan_image_folder: cannot list ", dir.string(), ": ", ec.message());
  std::sort(subdirs.begin(), subdirs.end());

  ImageFolder out;
  out.root = dir;
  if (classes.empty()) {
    MOODNET_CHECK(!subdirs.empty(), "scan_image_folder: ", dir.string(),
                  " has no class folders (expected one sub-folder per class)");
    out.class_names = subdirs;
  } else {
    std::set<std::string> seen;
    for (const auto& c : classes) {
      MOODNET_CHECK(seen.insert(c).second, "scan_image_folder: class '", c, "' is listed twice");
      MOODNET_CHECK(std::binary_search(subdirs.begin(), subdirs.end(), c),
                    "scan_image_folder: class '", c, "' has no folder ", (dir / c).string());
    }
    out.class_names = classes;
  }
  MOODNET_CHECK(out.class_names.size() >= 2, "scan_image_folder: ", dir.string(), " has ",
                out.class_names.size(), " class folder(s) (",
                out.class_names.empty() ? std::string() : out.class_names[0],
                "); at least 2 are needed");

  for (size_t label = 0; label < out.class_names.size(); ++label) {
    const fs::path class_dir = dir / out.class_names[label];
    // (folder relative to the class folder, file name): Keras sorts os.walk by folder, then names.
    std::vector<std::pair<std::string, std::string>> found;
    std::error_code e;
    fs::recursive_directory_iterator it(class_dir, fs::directory_options::skip_permission_denied,
                                        e),
        end;
    for (; !e && it != end; it.increment(e)) {
      const fs::path& p = it->path();
      std::error_code e2;
      if (!has_image_extension(p) || !it->is_regular_file(e2)) continue;
      std::string sub = p.parent_path().lexically_relative(class_dir).generic_string();
      if (sub == ".") sub.clear();  // files of the class folder itself come first
      found.emplace_back(std::move(sub), p.filename().string());
    }
    MOODNET_CHECK(!e, "scan_image_folder: cannot list ", class_dir.string(), ": ", e.message());
    std::sort(found.begin(), found.end());
    for (const auto& [sub, name] : found) {
      out.files.push_back(sub.empty() ? class_dir / name : class_dir / sub / name);
      out.labels.push_back(static_cast<int>(label));
    }
  }
  MOODNET_CHECK(
      !out.files.empty(), "scan_image_folder: no images (",
      [] {
        std::string s;
        for (const auto& e : image_extensions()) s += (s.empty() ? "" : " ") + e;
        return s;
      }(),
      ") found in the class folders of ", dir.string());
  return out;
}

// Sample indices of a dataset cut three ways.
struct Split {
  std::vector<int64_t> train, validation, test;
};

// Per class: the class's sample indices are shuffled with the counter RNG keyed by (seed,
// class), the first round(test_fraction * n) go to test, the next round(validation_fraction *
// n) to validation, the rest to train. Each list is returned in ascending order. The same labels
// and seed always give the same split. Note: this splits by sample; split by identity first when
// one person has several images.
inline Split stratified_split(const std::vector<int>& labels, double validation_fraction,
                              double test_fraction, uint64_t seed) {
  MOODNET_CHECK(validation_fraction >= 0 && validation_fraction <= 1 && test_fraction >= 0 &&
                    test_fraction <= 1 && validation_fraction + test_fraction <= 1,
                "stratified_split: fractions validation=", validation_fraction,
                " test=", test_fraction, " must lie in [0, 1] and sum to at most 1");
  int num_classes = 0;
  for (int l : labels) {
    MOODNET_CHECK(l >= 0, "stratified_split: negative label ", l);
    num_classes = std::max(num_classes, l + 1);
  }
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i)
    by_class[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));

  Split s;
  for (size_t c = 0; c < by_class.size(); ++c) {
    auto& idx = by_class[c];
    const auto n = static_cast<int64_t>(idx.size());
    const uint64_t stream = stream_id(0x5b117, c);
    for (int64_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(random_bits(seed, stream, static_cast<uint64_t>(i)) %
                                          static_cast<uint64_t>(i + 1));
      std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
    }
    const int64_t n_test =
        std::min<int64_t>(std::llround(test_fraction * static_cast<double>(n)), n);
    const int64_t n_val =
        std::min<int64_t>(std::llround(validation_fraction * static_cast<double>(n)), n - n_test);
    s.test.insert(s.test.end(), idx.begin(), idx.begin() + n_test);
    s.validation.insert(s.validation.end(), idx.begin() + n_test, idx.begin() + n_test + n_val);
    s.train.insert(s.train.end(), idx.begin() + n_test + n_val, idx.end());
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

// Keras' validation_split + subset: the whole file list shuffled with the seed, the last
// round(fraction * n) files are the "validation" subset and the rest the "training" subset
// (not stratified, as in Keras; the shuffle is moodnet's counter RNG, not NumPy's). Returned in
// ascending order.
inline Split validation_split(int64_t n, double fraction, uint64_t seed) {
  MOODNET_CHECK(fraction > 0 && fraction < 1, "validation_split: fraction ", fraction,
                " must lie in (0, 1)");
  MOODNET_CHECK(n >= 2, "validation_split: need at least 2 samples, got ", n);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  const uint64_t stream = stream_id(0x5b118, 0);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(random_bits(seed, stream, static_cast<uint64_t>(i)) %
                                        static_cast<uint64_t>(i + 1));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  const int64_t n_val =
      std::clamp<int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
  Split s;
  s.train.assign(idx.begin(), idx.end() - n_val);
  s.validation.assign(idx.end() - n_val, idx.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  return s;
}

// Like stratified_split, but every group (e.g. one person) lands whole on one side. Groups are
// stratified by their most frequent label (ties: the lower label); within each stratum the
// groups, in sorted key order, are shuffled by the seed and dealt to test until it holds
// round(test_fraction * stratum size) samples or more, then to validation likewise, then to
// train. Fractions are therefore met at group granularity.
inline Split group_split(const std::vector<int>& labels, const std::vector<std::string>& groups,
                         double validation_fraction, double test_fraction, uint64_t seed) {
  MOODNET_CHECK(labels.size() == groups.size(), "group_split: ", labels.size(), " labels but ",
                groups.size(), " group keys");
  MOODNET_CHECK(
      validation_fraction >= 0 && test_fraction >= 0 && validation_fraction + test_fraction <= 1,
      "group_split: fractions validation=", validation_fraction, " test=", test_fraction,
      " must be >= 0 and sum to at most 1");
  std::map<std::string, std::vector<int64_t>> members;  // sorted keys: order-independent
  for (size_t i = 0; i < groups.size(); ++i) {
    MOODNET_CHECK(labels[i] >= 0, "group_split: negative label ", labels[i]);
    members[groups[i]].push_back(static_cast<int64_t>(i));
  }
  std::map<int, std::vector<const std::vector<int64_t>*>> strata;
  for (const auto& [key, idx] : members) {
    std::map<int, int64_t> votes;
    for (int64_t i : idx) ++votes[labels[static_cast<size_t>(i)]];
    int best = votes.begin()->first;
    for (const auto& [label, count] : votes)
      if (count > votes[best]) best = label;
    strata[best].push_back(&idx);
  }
  Split s;
  for (auto& [label, list] : strata) {
    const uint64_t stream = stream_id(0x6a0c9, static_cast<uint64_t>(label));
    for (int64_t i = static_cast<int64_t>(list.size()) - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(random_bits(seed, stream, static_cast<uint64_t>(i)) %
                                          static_cast<uint64_t>(i + 1));
      std::swap(list[static_cast<size_t>(i)], list[static_cast<size_t>(j)]);
    }
    int64_t total = 0;
    for (const auto* g : list) total += static_cast<int64_t>(g->size());
    const int64_t want_test = std::llround(test_fraction * static_cast<double>(total));
    const int64_t want_val = std::llround(validation_fraction * static_cast<double>(total));
    int64_t n_test = 0, n_val = 0;
    for (const auto* g : list) {
      const auto size = static_cast<int64_t>(g->size());
      std::vector<int64_t>* side = &s.train;
      if (n_test < want_test)
        side = &s.test, n_test += size;
      else if (n_val < want_val)
        side = &s.validation, n_val += size;
      side->insert(side->end(), g->begin(), g->end());
    }
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

}  // namespace moodnet
