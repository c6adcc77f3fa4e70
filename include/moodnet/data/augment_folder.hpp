// Offline augmentation of a whole folder (seed 003 wrote 10 variants of every image this way).
// A tool header, kept out of <moodnet/moodnet.hpp> so that header stays quick to compile:
// include <moodnet/data/augment_folder.hpp>. PNG/JPEG writing uses stb_image_write from the
// system libstb the moodnet target links.
#pragma once

#include <stb/stb_image_write.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "augment.hpp"

namespace moodnet {

// ---- Offline: augment a folder xN ------------------------------------------------------------

struct AugmentFolderOptions {
  bool jpeg = false;      // write JPEG (quality jpeg_quality) instead of PNG
  int jpeg_quality = 95;  // 1..100
  ColorMode color_mode = ColorMode::rgb;
  int64_t height = 0, width = 0;  // resize (bilinear) before augmenting; 0, 0 keeps the size
  bool strict = false;            // throw on the first unreadable image instead of skipping it
  int64_t max_pixels = default_max_image_pixels;
};

struct AugmentFolderReport {
  struct Skipped {
    std::filesystem::path path;
    std::string reason;
  };
  int64_t images = 0;         // source images augmented
  int64_t files_written = 0;  // images * copies
  std::vector<Skipped> skipped;
};

// For every image of in_dir (scan_image_folder: in_dir/<class>/**/<image>) writes `copies`
// augmented variants to out_dir/<class>/<same sub-folders>/<stem>_aug<k>.png (k = 0..copies-1;
// .jpg with opt.jpeg; a stem shared by two files of one folder gets its extension appended:
// a_png_aug0.png). Variant k of a file is augment_image keyed by (seed, epoch = k, index = hash
// of its path relative to in_dir), so adding files changes no other file's variants. Each file
// is written to <name>.tmp, then renamed: no half-written image is ever left.
// Unreadable inputs are skipped and listed with the reason (strict: the first throws, and no
// later file is started). Refuses
// an out_dir equal to or inside in_dir. Existing outputs of the same name are replaced.
inline AugmentFolderReport augment_folder(const std::filesystem::path& in_dir,
                                          const std::filesystem::path& out_dir, int copies,
                                          const Augmentation& aug, uint64_t seed,
                                          const AugmentFolderOptions& opt = {}) {
  namespace fs = std::filesystem;
  MOODNET_CHECK(copies >= 1, "augment_folder: copies must be >= 1, got ", copies);
  MOODNET_CHECK(!opt.jpeg || (opt.jpeg_quality >= 1 && opt.jpeg_quality <= 100),
                "augment_folder: jpeg_quality ", opt.jpeg_quality, " must lie in [1, 100]");
  MOODNET_CHECK((opt.height == 0) == (opt.width == 0) && opt.height >= 0 && opt.width >= 0,
                "augment_folder: resize to ", opt.height, "x", opt.width,
                " needs both sizes positive (or both 0 to keep the size)");
  aug.validate();
  std::error_code ec;
  auto canonical = [&](const fs::path& p) {
    fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec).lexically_normal();
    return c.has_filename() ? c : c.parent_path();  // drop a trailing separator
  };
  const fs::path in_c = canonical(in_dir), out_c = canonical(out_dir);
  MOODNET_CHECK(
      std::mismatch(in_c.begin(), in_c.end(), out_c.begin(), out_c.end()).first != in_c.end(),
      "augment_folder: refusing to write into the input folder ", in_dir.string(), " (out_dir ",
      out_dir.string(), " is the input folder or inside it)");
  const ImageFolder folder = scan_image_folder(in_dir);
  const auto n = static_cast<int64_t>(folder.files.size());

  // Output stems, decided up front in folder order (deterministic, collision-free).
  std::vector<fs::path> stems(static_cast<size_t>(n));
  std::set<fs::path> used;
  for (int64_t i = 0; i < n; ++i) {
    const fs::path rel = folder.files[static_cast<size_t>(i)].lexically_relative(in_dir);
    fs::path stem = out_dir / rel.parent_path() / rel.stem();
    if (!used.insert(stem).second) {
      stem += "_" + rel.extension().string().substr(1);
      used.insert(stem);
    }
    stems[static_cast<size_t>(i)] = stem;
  }
  const std::string ext = opt.jpeg ? ".jpg" : ".png";
  std::vector<std::string> read_error(static_cast<size_t>(n)), write_error(static_cast<size_t>(n));
  std::atomic<int64_t> first_bad{n};  // strict: files after the first bad one are not started

  MOODNET_OMP(omp parallel for schedule(dynamic))
  for (int64_t i = 0; i < n; ++i) {
    if (i > first_bad.load()) continue;
    const auto& file = folder.files[static_cast<size_t>(i)];
    Image src, out;
    try {
      src = decode_image(file, opt.color_mode, opt.max_pixels);
      if (opt.height > 0) src = resize_bilinear(src, opt.height, opt.width);
    } catch (const std::exception& e) {
      read_error[static_cast<size_t>(i)] = e.what();
      for (int64_t b = first_bad.load(); opt.strict && i < b;)
        if (first_bad.compare_exchange_weak(b, i)) break;
      continue;
    }
    uint64_t key = 0xcbf29ce484222325ULL;  // FNV-1a of the relative path
    for (char ch : file.lexically_relative(in_dir).generic_string())
      key = (key ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    const fs::path& stem = stems[static_cast<size_t>(i)];
    std::error_code dir_error;
    fs::create_directories(stem.parent_path(), dir_error);
    for (int k = 0; k < copies && write_error[static_cast<size_t>(i)].empty(); ++k) {
      try {
        augment_image(src, aug, seed, static_cast<uint64_t>(k), key, out);
      } catch (const std::exception& ex) {
        write_error[static_cast<size_t>(i)] = ex.what();
        break;
      }
      const std::string name = stem.filename().string() + "_aug" + std::to_string(k) + ext;
      const fs::path final_path = stem.parent_path() / name, tmp = final_path.string() + ".tmp";
      const auto w = static_cast<int>(out.width), h = static_cast<int>(out.height);
      const auto c = static_cast<int>(out.channels);
      const int ok = opt.jpeg
                         ? stbi_write_jpg(tmp.c_str(), w, h, c, out.pixels.data(), opt.jpeg_quality)
                         : stbi_write_png(tmp.c_str(), w, h, c, out.pixels.data(), w * c);
      std::error_code e = dir_error;
      if (ok) fs::rename(tmp, final_path, e);
      if (!ok || e) {
        std::error_code e2;
        fs::remove(tmp, e2);
        write_error[static_cast<size_t>(i)] =
            "cannot write " + final_path.string() + (e ? ": " + e.message() : std::string());
      }
    }
  }

  AugmentFolderReport report;
  for (int64_t i = 0; i < n; ++i) {
    const auto& file = folder.files[static_cast<size_t>(i)];
    if (i > first_bad.load()) break;
    MOODNET_CHECK(write_error[static_cast<size_t>(i)].empty(),
                  "augment_folder: ", write_error[static_cast<size_t>(i)]);
    if (!read_error[static_cast<size_t>(i)].empty()) {
      MOODNET_CHECK(!opt.strict, "augment_folder: ", read_error[static_cast<size_t>(i)]);
      report.skipped.push_back({file, read_error[static_cast<size_t>(i)]});
      continue;
    }
    ++report.images;
    report.files_written += copies;
  }
  return report;
}

}  // namespace moodnet
