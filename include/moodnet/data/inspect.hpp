// Dataset health check: what a folder of labelled images really holds before you train on it.
//
//   DatasetReport r = inspect_dataset("data/fer2013");
//   print_report(std::cout, r);
//
// Per split and class: images found, usable, unreadable (with the decoder's reason), ignored
// files; exact duplicates by decoded pixels, grouped as redundant copies (one class of one
// split), conflicting labels (several classes) and leakage (several splits); image sizes; and per
// class the share of grayscale images and the mean brightness, the shortcuts a classifier can
// learn instead of the expression.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../core/random.hpp"
#include "folder.hpp"
#include "image.hpp"

namespace moodnet {

struct InspectOptions {
  int64_t max_pixels = default_max_image_pixels;  // larger images are unreadable (not decoded)
  int64_t small_side = 32;  // images narrower or lower than this are counted as small
  // Near-grayscale: the mean over pixels of max(r,g,b) - min(r,g,b) is at most this (5 gives
  // the data README's "near-grayscale" counts of google-happy-sad).
  double near_gray_spread = 5.0;
};

// One class folder of one split.
struct ClassReport {
  std::string name;
  int64_t found = 0;       // files with an image extension (or links to such files)
  int64_t usable = 0;      // decoded
  int64_t unreadable = 0;  // found but not decodable: see DatasetReport::unreadable
  int64_t ignored = 0;     // other files (no image extension)
  int64_t redundant = 0;   // usable images whose pixels equal an earlier one of this class folder
  int64_t grayscale = 0;   // usable images with r == g == b at every pixel (gray sources too)
  int64_t near_grayscale = 0;  // usable images within InspectOptions::near_gray_spread of gray
  double mean_brightness = 0;  // mean over usable images of their mean luma (0-255, ITU-R 601)
  // Median over usable images of the variance of the Laplacian of their luma: how sharp they are
  // (a blurred image has little high-frequency content; sharp 48x48 faces score in the
  // thousands, the same faces blurred by a 3-pixel Gaussian below 10).
  double median_sharpness = 0;
  double grayscale_share() const { return usable ? double(grayscale) / double(usable) : 0.0; }
  double near_grayscale_share() const {
    return usable ? double(near_grayscale) / double(usable) : 0.0;
  }
};

struct SplitReport {
  std::string name;  // "" when the dataset is a plain class-folder tree
  std::filesystem::path dir;
  std::vector<ClassReport> classes;  // sorted by name
  double median_sharpness = 0;       // over every usable image of the split (see ClassReport)
};

struct FileProblem {
  std::filesystem::path path;
  std::string reason;
};

// Files (in path order) whose decoded pixels are identical.
struct DuplicateGroup {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> splits, classes;  // per file
  bool conflicting_labels = false;           // more than one class name
  bool leakage = false;                      // more than one split
};

struct SizeStats {
  int64_t min_width = 0, median_width = 0, max_width = 0;
  int64_t min_height = 0, median_height = 0, max_height = 0;
  int64_t small = 0;  // width or height below InspectOptions::small_side
};

struct DatasetReport {
  std::filesystem::path root;
  bool split_tree = false;  // root/<split>/<class>/... rather than root/<class>/...
  std::vector<SplitReport> splits;
  std::vector<FileProblem> unreadable;         // path order
  std::vector<std::filesystem::path> ignored;  // path order
  // Images lying directly in root (split tree: directly in a split folder): no class.
  std::vector<std::filesystem::path> unlabelled;
  std::vector<DuplicateGroup> duplicates;  // groups of 2+ files, ordered by their first file
  SizeStats sizes;
  int64_t small_side = 32;

  int64_t found() const { return sum(&ClassReport::found); }
  int64_t usable() const { return sum(&ClassReport::usable); }
  // Duplicate files beyond the first of each group, over all groups.
  int64_t redundant_files() const {
    int64_t n = 0;
    for (const auto& g : duplicates) n += static_cast<int64_t>(g.files.size()) - 1;
    return n;
  }
  int64_t count_groups(bool DuplicateGroup::*flag) const {
    int64_t n = 0;
    for (const auto& g : duplicates) n += (g.*flag) ? 1 : 0;
    return n;
  }
  int64_t sum(int64_t ClassReport::*field) const {
    int64_t n = 0;
    for (const auto& s : splits)
      for (const auto& c : s.classes) n += c.*field;
    return n;
  }
};

namespace detail {

// Non-hidden sub-folders of dir, sorted (links to folders are followed only at this level,
// as scan_image_folder does; recursion below never follows them); images: dir's own images.
inline std::vector<std::string> inspect_subdirs(const std::filesystem::path& dir,
                                                std::vector<std::filesystem::path>* images) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    const std::string name = it->path().filename().string();
    if (it->is_directory(e2)) {
      if (!name.empty() && name[0] != '.') out.push_back(name);
    } else if (has_image_extension(it->path()) && it->is_regular_file(e2)) {
      images->push_back(it->path());
    }
  }
  std::sort(out.begin(), out.end());
  std::sort(images->begin(), images->end());
  return out;
}

// 128-bit hash of an image's size and pixels (two independent 64-bit multiply-xorshift lanes,
// finished with moodnet::mix64);
// a collision between different images is not a practical concern.
using PixelHash = std::pair<uint64_t, uint64_t>;

inline PixelHash hash_image(const Image& img) {
  uint64_t a = mix64(uint64_t(img.width) * 0x9e3779b97f4a7c15ULL ^ uint64_t(img.height));
  uint64_t b = mix64(a ^ uint64_t(img.channels) ^ 0x2545f4914f6cdd1dULL);
  const uint8_t* p = img.pixels.data();
  const size_t n = img.pixels.size();
  size_t i = 0;
  auto step = [&](uint64_t w) {
    a = (a ^ w) * 0x87c37b91114253d5ULL;
    a = (a << 31) | (a >> 33);
    b = (b + w) * 0x4cf5ad432745937fULL;
    b ^= b >> 29;
  };
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    step(w);
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < n; ++k) tail |= uint64_t(p[i + k]) << (8 * k);
  step(tail ^ (uint64_t(n) << 56));
  return {mix64(a ^ n), mix64(b + a)};
}

// The decoder's message without its "cannot decode image <path>: " prefix.
inline std::string inspect_reason(const std::string& msg, const std::string& path) {
  for (const char* lead : {"cannot decode image ", "cannot read image "}) {
    const std::string prefix = std::string(lead) + path + ": ";
    if (msg.compare(0, prefix.size(), prefix) == 0) return msg.substr(prefix.size());
  }
  return msg;
}

struct InspectItem {
  std::filesystem::path path;
  int split = 0, cls = 0;
  bool ok = false, gray = false, near_gray = false;
  std::string reason;
  int64_t width = 0, height = 0;
  double brightness = 0, sharpness = 0;
  PixelHash hash;
};

// Variance of the 4-neighbour Laplacian of the luma over the interior pixels (0 for images
// narrower or lower than 3 pixels): the usual focus/blur measure.
inline double laplacian_variance(const Image& img) {
  const int64_t w = img.width, h = img.height, c = img.channels;
  if (w < 3 || h < 3) return 0.0;
  std::vector<int32_t> y(static_cast<size_t>(w * h));
  for (int64_t k = 0; k < w * h; ++k) {
    const uint8_t* p = img.pixels.data() + k * c;
    y[size_t(k)] = c >= 3 ? int32_t(luma601(p[0], p[1], p[2])) : int32_t(p[0]);
  }
  double sum = 0, sum2 = 0;
  for (int64_t r = 1; r + 1 < h; ++r)
    for (int64_t x = 1; x + 1 < w; ++x) {
      const size_t k = size_t(r * w + x);
      const double l = 4.0 * y[k] - y[k - 1] - y[k + 1] - y[k - size_t(w)] - y[k + size_t(w)];
      sum += l;
      sum2 += l * l;
    }
  const double n = double((w - 2) * (h - 2));
  return std::max(0.0, sum2 / n - (sum / n) * (sum / n));
}

template <class T>
T median_of(std::vector<T> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;  // the upper median for an even count
}

}  // namespace detail

// Inspects dir. Layout: a split tree (dir/<split>/<class>/...) when dir holds no images itself
// and every non-hidden sub-folder holds class sub-folders and no images itself (train/test,
// all, ...); otherwise a class-folder tree (dir/<class>/...). Class folders are scanned like
// scan_image_folder: recursively, links to folders not followed, hidden class folders skipped.
// Every image is decoded as RGB (gray sources replicated, alpha dropped) in parallel; duplicates
// are images with equal size and equal RGB pixels, so a grayscale file and a colour file with
// r == g == b everywhere and the same values count as duplicates. Bad files never throw: they
// are counted and listed with the reason. Throws moodnet::Error only when dir is not a folder.
inline DatasetReport inspect_dataset(const std::filesystem::path& dir,
                                     const InspectOptions& opt = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  MOODNET_CHECK(fs::exists(st), "inspect: ", dir.string(), " does not exist");
  MOODNET_CHECK(fs::is_directory(st), "inspect: ", dir.string(), " is not a folder");
  MOODNET_CHECK(opt.max_pixels > 0, "inspect: max_pixels must be positive, got ", opt.max_pixels);

  DatasetReport r;
  r.root = dir;
  r.small_side = opt.small_side;
  std::vector<fs::path> images;
  const std::vector<std::string> top = detail::inspect_subdirs(dir, &images);
  r.split_tree = images.empty() && !top.empty();
  for (size_t i = 0; r.split_tree && i < top.size(); ++i)
    r.split_tree = !detail::inspect_subdirs(dir / top[i], &images).empty() && images.empty();
  if (r.split_tree) {
    for (const auto& s : top) r.splits.push_back({s, dir / s, {}});
  } else {
    r.splits.push_back({"", dir, {}});
  }

  // Collect files in path order: split, class, then (sub-folder, name) as scan_image_folder.
  std::vector<detail::InspectItem> items;
  for (size_t si = 0; si < r.splits.size(); ++si) {
    SplitReport& split = r.splits[si];
    images.clear();  // images lying beside the class folders belong to no class
    for (const auto& c : detail::inspect_subdirs(split.dir, &images))
      split.classes.push_back({.name = c});
    r.unlabelled.insert(r.unlabelled.end(), images.begin(), images.end());
    for (size_t ci = 0; ci < split.classes.size(); ++ci) {
      ClassReport& cls = split.classes[ci];
      const fs::path class_dir = split.dir / cls.name;
      std::vector<std::pair<std::string, std::string>> found, other;
      std::error_code e;
      fs::recursive_directory_iterator it(class_dir, fs::directory_options::skip_permission_denied,
                                          e),
          end;
      for (; !e && it != end; it.increment(e)) {
        std::error_code e2;
        if (it->is_directory(e2)) continue;  // links to folders: listed, never followed
        std::string sub = it->path().parent_path().lexically_relative(class_dir).generic_string();
        if (sub == ".") sub.clear();
        (has_image_extension(it->path()) ? found : other)
            .emplace_back(std::move(sub), it->path().filename().string());
      }
      auto full = [&](const std::pair<std::string, std::string>& f) {
        return f.first.empty() ? class_dir / f.second : class_dir / f.first / f.second;
      };
      std::sort(found.begin(), found.end());
      std::sort(other.begin(), other.end());
      for (const auto& f : other) r.ignored.push_back(full(f));
      cls.ignored = static_cast<int64_t>(other.size());
      cls.found = static_cast<int64_t>(found.size());
      for (const auto& f : found) {
        detail::InspectItem& item = items.emplace_back();
        item.path = full(f);
        item.split = int(si);
        item.cls = int(ci);
      }
    }
  }

  // Decode every image in parallel; each iteration writes only its own item.
  const auto n = static_cast<int64_t>(items.size());
  MOODNET_OMP(omp parallel for schedule(dynamic, 8))
  for (int64_t i = 0; i < n; ++i) {
    detail::InspectItem& it = items[static_cast<size_t>(i)];
    const std::string name = it.path.string();
    try {
      std::error_code e;
      if (!fs::is_regular_file(it.path, e)) {
        it.reason = fs::is_symlink(fs::symlink_status(it.path, e)) ? "broken symbolic link"
                                                                   : "not a regular file";
        continue;
      }
      const Image img = decode_image(it.path, ColorMode::rgb, opt.max_pixels);
      it.width = img.width;
      it.height = img.height;
      it.hash = detail::hash_image(img);
      const uint8_t* p = img.pixels.data();
      const auto np = static_cast<size_t>(img.num_pixels());
      bool gray = true;
      uint64_t luma = 0, spread = 0;
      for (size_t k = 0; k < np; ++k, p += 3) {
        gray = gray && p[0] == p[1] && p[1] == p[2];
        luma += detail::luma601(p[0], p[1], p[2]);
        spread += uint64_t(std::max({p[0], p[1], p[2]}) - std::min({p[0], p[1], p[2]}));
      }
      it.gray = gray;
      it.near_gray = np && double(spread) / double(np) <= opt.near_gray_spread;
      it.brightness = np ? double(luma) / double(np) : 0.0;
      it.sharpness = detail::laplacian_variance(img);
      it.ok = true;
    } catch (const Error& e) {
      it.reason = detail::inspect_reason(e.what(), name);
    } catch (const std::bad_alloc&) {
      it.reason = "out of memory while decoding";
    } catch (const std::exception& e) {
      it.reason = e.what();
    }
  }

  // Per-class tallies, sizes, unreadable files (all in path order).
  std::vector<int64_t> widths, heights;
  std::vector<std::vector<double>> brightness_sum(r.splits.size());
  std::vector<std::vector<std::vector<double>>> sharpness(r.splits.size());
  for (size_t si = 0; si < r.splits.size(); ++si) {
    brightness_sum[si].assign(r.splits[si].classes.size(), 0.0);
    sharpness[si].resize(r.splits[si].classes.size());
  }
  for (const auto& it : items) {
    ClassReport& c = r.splits[size_t(it.split)].classes[size_t(it.cls)];
    if (!it.ok) {
      ++c.unreadable;
      r.unreadable.push_back({it.path, it.reason});
      continue;
    }
    ++c.usable;
    c.grayscale += it.gray ? 1 : 0;
    c.near_grayscale += it.near_gray ? 1 : 0;
    brightness_sum[size_t(it.split)][size_t(it.cls)] += it.brightness;
    sharpness[size_t(it.split)][size_t(it.cls)].push_back(it.sharpness);
    widths.push_back(it.width);
    heights.push_back(it.height);
    r.sizes.small += (it.width < opt.small_side || it.height < opt.small_side) ? 1 : 0;
  }
  for (size_t si = 0; si < r.splits.size(); ++si) {
    std::vector<double> split_sharpness;
    for (size_t ci = 0; ci < r.splits[si].classes.size(); ++ci) {
      ClassReport& c = r.splits[si].classes[ci];
      if (c.usable) c.mean_brightness = brightness_sum[si][ci] / double(c.usable);
      c.median_sharpness = detail::median_of(sharpness[si][ci]);
      split_sharpness.insert(split_sharpness.end(), sharpness[si][ci].begin(),
                             sharpness[si][ci].end());
    }
    r.splits[si].median_sharpness = detail::median_of(std::move(split_sharpness));
  }
  if (!widths.empty()) {
    const auto [wmin, wmax] = std::minmax_element(widths.begin(), widths.end());
    const auto [hmin, hmax] = std::minmax_element(heights.begin(), heights.end());
    r.sizes.min_width = *wmin;
    r.sizes.max_width = *wmax;
    r.sizes.min_height = *hmin;
    r.sizes.max_height = *hmax;
    r.sizes.median_width = detail::median_of(widths);
    r.sizes.median_height = detail::median_of(heights);
  }

  // Duplicates: usable items sorted by (hash, path order); runs of equal hashes are groups.
  std::vector<size_t> order;
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].ok) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return items[x].hash < items[y].hash; });
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && items[order[j]].hash == items[order[i]].hash) ++j;
    if (j - i > 1)
      groups.emplace_back(order.begin() + std::ptrdiff_t(i), order.begin() + std::ptrdiff_t(j));
    i = j;
  }
  std::sort(groups.begin(), groups.end());  // by first (smallest) item index: path order
  for (const auto& g : groups) {
    DuplicateGroup d;
    std::map<std::pair<int, int>, int> seen;  // (split, class) -> files so far
    for (size_t i : g) {
      const auto& it = items[i];
      ClassReport& c = r.splits[size_t(it.split)].classes[size_t(it.cls)];
      if (seen[{it.split, it.cls}]++ > 0) ++c.redundant;
      d.files.push_back(it.path);
      d.splits.push_back(r.splits[size_t(it.split)].name);
      d.classes.push_back(c.name);
    }
    for (size_t k = 1; k < d.files.size(); ++k) {
      d.conflicting_labels = d.conflicting_labels || d.classes[k] != d.classes[0];
      d.leakage = d.leakage || d.splits[k] != d.splits[0];
    }
    r.duplicates.push_back(std::move(d));
  }
  return r;
}

namespace detail {
inline std::string rel(const DatasetReport& r, const std::filesystem::path& p) {
  const auto q = p.lexically_relative(r.root);
  return q.empty() ? p.generic_string() : q.generic_string();
}
}  // namespace detail

// A short human-readable report: one table row per split and class, then image sizes,
// duplicate groups (at most max_listed of each kind listed file by file), unreadable files with
// their reasons, ignored files and warnings. Paths are relative to the dataset folder.
inline void print_report(std::ostream& os, const DatasetReport& r, int64_t max_listed = 10) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  o << "dataset " << r.root.string() << ": ";
  if (r.split_tree) {
    o << "splits";
    for (const auto& s : r.splits) o << ' ' << s.name;
  } else {
    o << "class folders";
  }
  o << "; " << r.found() << " images found, " << r.usable() << " usable\n";
  o << "split    class          images  usable  unreadable  ignored  copies  gray %  near-gray %"
       "  brightness  sharpness\n";
  for (const auto& s : r.splits)
    for (const auto& c : s.classes)
      o << std::left << std::setw(8) << (s.name.empty() ? "-" : s.name) << ' ' << std::setw(12)
        << c.name << std::right << std::setw(9) << c.found << std::setw(8) << c.usable
        << std::setw(12) << c.unreadable << std::setw(9) << c.ignored << std::setw(8) << c.redundant
        << std::setw(8) << 100.0 * c.grayscale_share() << std::setw(13)
        << 100.0 * c.near_grayscale_share() << std::setw(12) << c.mean_brightness << std::setw(11)
        << c.median_sharpness << '\n';
  const SizeStats& z = r.sizes;
  o << "sizes (min/median/max): width " << z.min_width << '/' << z.median_width << '/'
    << z.max_width << ", height " << z.min_height << '/' << z.median_height << '/' << z.max_height
    << "; " << z.small << " below " << r.small_side << " px on a side\n";
  auto groups_of = [&](auto&& keep) {
    std::vector<const DuplicateGroup*> v;
    for (const auto& g : r.duplicates)
      if (keep(g)) v.push_back(&g);
    return v;
  };
  const auto conf = groups_of([](const DuplicateGroup& g) { return g.conflicting_labels; });
  const auto leak = groups_of([](const DuplicateGroup& g) { return g.leakage; });
  const auto same =
      groups_of([](const DuplicateGroup& g) { return !g.conflicting_labels && !g.leakage; });
  o << "exact duplicates (same decoded RGB pixels): " << r.duplicates.size() << " groups, "
    << r.redundant_files() << " redundant files; " << same.size() << " within one class, "
    << conf.size() << " with conflicting labels, " << leak.size() << " across splits (leakage)\n";
  auto list = [&](const std::string& what, size_t count, auto&& line) {
    if (count == 0) return;
    o << what << ": " << count << '\n';
    for (size_t k = 0; k < count && k < size_t(max_listed); ++k) o << "  " << line(k) << '\n';
    if (count > size_t(max_listed)) o << "  ... " << count - size_t(max_listed) << " more\n";
  };
  auto group_line = [&](const std::vector<const DuplicateGroup*>& v) {
    return [&r, v](size_t k) {
      std::string s;
      for (const auto& f : v[k]->files) s += (s.empty() ? "" : " = ") + detail::rel(r, f);
      return s;
    };
  };
  list("conflicting labels (same image in several classes)", conf.size(), group_line(conf));
  list("leakage (same image in several splits)", leak.size(), group_line(leak));
  list("copies within one class", same.size(), group_line(same));
  list("unreadable files", r.unreadable.size(), [&](size_t k) {
    return detail::rel(r, r.unreadable[k].path) + ": " + r.unreadable[k].reason;
  });
  list("ignored files (no image extension)", r.ignored.size(),
       [&](size_t k) { return detail::rel(r, r.ignored[k]); });
  list("images outside any class folder (not inspected)", r.unlabelled.size(),
       [&](size_t k) { return detail::rel(r, r.unlabelled[k]); });
  // Splits this different in sharpness hold different kinds of images (e.g. one set blurred):
  // what a model learns on one may not carry over to the other.
  for (const auto& sa : r.splits)
    for (const auto& sb : r.splits)
      if (sa.median_sharpness > 0 && sb.median_sharpness >= 10 * sa.median_sharpness)
        o << "warning: split " << sa.name << " is much blurrier than split " << sb.name
          << " (median sharpness " << sa.median_sharpness << " vs " << sb.median_sharpness
          << ", the variance of the Laplacian): a model trained on one sees other images in the "
             "other\n";
  std::map<std::string, size_t> class_splits;  // in how many splits each class name occurs
  for (const auto& s : r.splits)
    for (const auto& c : s.classes) ++class_splits[c.name];
  for (const auto& [name, count] : class_splits)
    if (count < r.splits.size())
      o << "warning: class " << name << " is missing from " << r.splits.size() - count << " of "
        << r.splits.size() << " splits\n";
  for (const auto& s : r.splits) {
    if (s.classes.empty())
      o << "warning: " << (s.name.empty() ? "the dataset" : "split " + s.name)
        << " has no class folders\n";
    for (const auto& c : s.classes)
      if (c.usable == 0)
        o << "warning: " << (s.name.empty() ? "" : s.name + "/") << c.name
          << " has no usable image\n";
  }
  os << o.str();
}

// The report as one JSON object (every list in full).
// A template only so that the JSON code is instantiated where it is called (compile time of
// programs that include moodnet.hpp without using it).
template <class Json = nlohmann::json>
Json to_json(const DatasetReport& r) {
  using json = Json;
  json splits = json::array();
  for (const auto& s : r.splits) {
    json classes = json::array();
    for (const auto& c : s.classes)
      classes.push_back({{"name", c.name},
                         {"found", c.found},
                         {"usable", c.usable},
                         {"unreadable", c.unreadable},
                         {"ignored", c.ignored},
                         {"redundant", c.redundant},
                         {"grayscale", c.grayscale},
                         {"grayscale_share", c.grayscale_share()},
                         {"near_grayscale", c.near_grayscale},
                         {"mean_brightness", c.mean_brightness},
                         {"median_sharpness", c.median_sharpness}});
    splits.push_back(
        {{"name", s.name}, {"classes", classes}, {"median_sharpness", s.median_sharpness}});
  }
  json dups = json::array();
  for (const auto& g : r.duplicates) {
    json files = json::array();
    for (const auto& f : g.files) files.push_back(detail::rel(r, f));
    dups.push_back(
        {{"files", files}, {"conflicting_labels", g.conflicting_labels}, {"leakage", g.leakage}});
  }
  json bad = json::array(), ignored = json::array(), unlabelled = json::array();
  for (const auto& u : r.unreadable)
    bad.push_back({{"file", detail::rel(r, u.path)}, {"reason", u.reason}});
  for (const auto& f : r.ignored) ignored.push_back(detail::rel(r, f));
  for (const auto& f : r.unlabelled) unlabelled.push_back(detail::rel(r, f));
  const SizeStats& z = r.sizes;
  return {{"root", r.root.string()},
          {"split_tree", r.split_tree},
          {"found", r.found()},
          {"usable", r.usable()},
          {"splits", splits},
          {"sizes",
           {{"width", {z.min_width, z.median_width, z.max_width}},
            {"height", {z.min_height, z.median_height, z.max_height}},
            {"small_side", r.small_side},
            {"small", z.small}}},
          {"duplicate_groups", r.duplicates.size()},
          {"redundant_files", r.redundant_files()},
          {"conflicting_label_groups", r.count_groups(&DuplicateGroup::conflicting_labels)},
          {"leakage_groups", r.count_groups(&DuplicateGroup::leakage)},
          {"duplicates", dups},
          {"unreadable", bad},
          {"ignored", ignored},
          {"unlabelled", unlabelled}};
}

}  // namespace moodnet
