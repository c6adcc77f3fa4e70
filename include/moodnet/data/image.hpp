// Image decoding (stb_image) and TensorFlow-compatible resizing (bilinear, nearest, area; crop or
// pad to the aspect ratio as Keras), on 8-bit HWC images.
//
// The stb_image implementation is not compiled here: moodnet links the prebuilt libstb that
// Debian/Ubuntu ship (package libstb-dev), found by CMake and added to the moodnet::moodnet
// target, so stb is compiled in exactly one place. This header only sees its declarations.
#pragma once

#include <stb/stb_image.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../config.hpp"

namespace moodnet {

// Keras' color_mode. rgb: 3 channels (alpha dropped, gray replicated). grayscale: 1 channel,
// ITU-R 601 luma as Pillow's convert("L"). rgba: 4 channels (gray replicated; images without
// alpha get 255).
enum class ColorMode { rgb, grayscale, rgba };

inline const char* to_string(ColorMode m) {
  return m == ColorMode::grayscale ? "grayscale" : m == ColorMode::rgba ? "rgba" : "rgb";
}
inline int64_t num_channels(ColorMode m) {
  return m == ColorMode::grayscale ? 1 : m == ColorMode::rgba ? 4 : 3;
}
// "rgb", "grayscale" or "rgba"; anything else throws moodnet::Error naming the choices.
inline ColorMode parse_color_mode(std::string_view s) {
  for (ColorMode m : {ColorMode::rgb, ColorMode::grayscale, ColorMode::rgba})
    if (s == to_string(m)) return m;
  MOODNET_FAIL("unknown color mode '", s, "' (expected rgb, grayscale or rgba)");
}

// An 8-bit image, pixels stored row-major as (height, width, channels).
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;

  int64_t num_pixels() const { return height * width; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

// Images larger than this many pixels are refused before decoding (a 36-megapixel photo already
// takes 108 MB as RGB).
inline constexpr int64_t default_max_image_pixels = 64'000'000;

namespace detail {

// Pillow's convert("L"): L = R*299/1000 + G*587/1000 + B*114/1000 in 16-bit fixed point, rounded
// to nearest (the weights sum to 65536, so gray input keeps its exact value).
inline uint8_t luma601(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

inline std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

struct StbPixels {
  stbi_uc* p = nullptr;
  explicit StbPixels(stbi_uc* q) : p(q) {}
  StbPixels(const StbPixels&) = delete;
  StbPixels& operator=(const StbPixels&) = delete;
  ~StbPixels() {
    if (p) stbi_image_free(p);
  }
};

// stb_image (2022-09, as Debian ships it) trusts a JPEG's Huffman tables: a table declaring
// more than 256 codes overflows a heap buffer, and a scan naming a table never defined decodes
// with uninitialised memory (both found by fuzzing). This walks the JPEG's marker segments the
// way a decoder meets them and returns an error message for either case, or an empty string.
inline std::string jpeg_huffman_problem(std::span<const uint8_t> b) {
  const size_t n = b.size();
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return {};  // not a JPEG
  auto at = [&](size_t i) -> int { return i < n ? b[i] : 0; };
  bool defined[2][4] = {};  // [DC, AC][table id]
  size_t pos = 2;
  while (pos + 1 < n) {
    if (b[pos] != 0xFF) {  // entropy-coded data: skip to the next marker
      ++pos;
      continue;
    }
    const uint8_t m = b[pos + 1];
    if (m == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    pos += 2;
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) break;                                              // end of image
    if (pos + 2 > n) break;
    const size_t len = size_t(b[pos]) << 8 | b[pos + 1];
    if (m == 0xC4) {
      // DHT, read as stb reads it: tables follow while the declared length lasts, even when a
      // table runs past it (bytes past the end of the file read as 0).
      long left = static_cast<long>(len) - 2;
      size_t t = pos + 2;
      while (left > 0) {
        const int q = at(t);
        if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb rejects the table header
        int codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += at(t + i);
        if (codes > 256)
          return "corrupt JPEG: a Huffman table declares " + std::to_string(codes) +
                 " codes (at most 256)";
        defined[q >> 4][q & 15] = true;
        t += 17 + size_t(codes);
        left -= 17 + codes;
      }
    }
    if (m == 0xDA) {
      // SOS: stb decodes with whatever tables the scan names, defined or not (uninitialised
      // memory, found by fuzzing); DC tables serve scans starting at coefficient 0, AC tables
      // scans ending past it.
      const size_t ns = size_t(at(pos + 2));
      const int ss = at(pos + 3 + 2 * ns), se = at(pos + 4 + 2 * ns);
      for (size_t i = 0; i < ns && i < 4; ++i) {
        const int tables = at(pos + 4 + 2 * i), td = tables >> 4, ta = tables & 15;
        if ((ss == 0 && td < 4 && !defined[0][td]) || (se > 0 && ta < 4 && !defined[1][ta]))
          return "corrupt JPEG: a scan uses a Huffman table that was never defined";
      }
    }
    pos = len >= 2 ? pos + len : pos;  // SOS: its header, then entropy data until a marker
  }
  return {};
}

}  // namespace detail

// Decodes an encoded image held in memory (JPEG baseline/progressive, PNG incl. palette, RGBA
// and 16-bit, BMP, GIF first frame, TGA). `name` only labels error messages. The dimensions are
// read and checked against max_pixels before any pixel is decoded.
inline Image decode_image_bytes(std::span<const uint8_t> bytes, ColorMode mode,
                                int64_t max_pixels = default_max_image_pixels,
                                std::string_view name = "<memory>") {
  MOODNET_CHECK(!bytes.empty(), "cannot decode image ", name, ": empty file (0 bytes)");
  MOODNET_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), "cannot decode image ", name,
                ": file too large (", bytes.size(), " bytes)");
  const int len = static_cast<int>(bytes.size());
  if (const std::string problem = detail::jpeg_huffman_problem(bytes); !problem.empty())
    MOODNET_FAIL("cannot decode image ", name, ": ", problem);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &c))
    MOODNET_FAIL("cannot decode image ", name, ": ", detail::stb_reason(),
                 " (not a supported image, or corrupt)");
  const int64_t pixels = int64_t{w} * int64_t{h};
  MOODNET_CHECK(w > 0 && h > 0, "cannot decode image ", name, ": invalid size ", w, "x", h);
  MOODNET_CHECK(pixels <= max_pixels, "cannot decode image ", name, ": ", w, "x", h, " = ", pixels,
                " pixels exceeds the limit of ", max_pixels, " pixels");

  // Gray sources decode straight to one channel; colour sources go through RGB so the luma is
  // Pillow's, not stb's own approximation (or the JPEG's Y plane). rgba asks stb for 4 channels
  // (alpha 255 where the file has none).
  const bool gray_source = (c == 1 || c == 2);
  const int req = mode == ColorMode::rgba                         ? 4
                  : (mode == ColorMode::grayscale && gray_source) ? 1
                                                                  : 3;
  int dw = 0, dh = 0, dc = 0;
  detail::StbPixels data(stbi_load_from_memory(bytes.data(), len, &dw, &dh, &dc, req));
  if (!data.p)
    MOODNET_FAIL("cannot decode image ", name, ": ", detail::stb_reason(),
                 " (truncated or corrupt)");
  MOODNET_CHECK(dw == w && dh == h, "cannot decode image ", name, ": header says ", w, "x", h,
                " but decoded ", dw, "x", dh);

  Image img;
  img.height = h;
  img.width = w;
  img.channels = num_channels(mode);
  const auto n = static_cast<size_t>(pixels);
  if (mode != ColorMode::grayscale || req == 1) {
    img.pixels.assign(data.p, data.p + n * static_cast<size_t>(req));
  } else {
    img.pixels.resize(n);
    for (size_t i = 0; i < n; ++i)
      img.pixels[i] = detail::luma601(data.p[3 * i], data.p[3 * i + 1], data.p[3 * i + 2]);
  }
  return img;
}

// Reads and decodes an image file. Every failure (missing, empty, truncated, corrupt, not an
// image, too large) throws moodnet::Error naming the file and the reason.
inline Image decode_image(const std::filesystem::path& file, ColorMode mode,
                          int64_t max_pixels = default_max_image_pixels) {
  const std::string name = file.string();
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  MOODNET_CHECK(std::filesystem::exists(status), "cannot read image ", name, ": file not found");
  MOODNET_CHECK(!std::filesystem::is_directory(status), "cannot read image ", name,
                ": is a directory");
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  MOODNET_CHECK(in, "cannot read image ", name, ": cannot open the file");
  const std::streamoff size = in.tellg();
  MOODNET_CHECK(size >= 0, "cannot read image ", name, ": cannot determine the file size");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  MOODNET_CHECK(in.good() || size == 0, "cannot read image ", name, ": read error");
  return decode_image_bytes(bytes, mode, max_pixels, name);
}

namespace detail {

inline void check_resize(const char* what, const Image& src, int64_t height, int64_t width) {
  MOODNET_CHECK(height > 0 && width > 0, what, ": target size ", height, "x", width,
                " must be positive");
  MOODNET_CHECK(
      src.height > 0 && src.width > 0 && src.channels > 0 &&
          static_cast<int64_t>(src.pixels.size()) == src.height * src.width * src.channels,
      what, ": invalid source image ", src.height, "x", src.width, "x", src.channels, " with ",
      src.pixels.size(), " bytes");
}

inline Image blank_image(int64_t height, int64_t width, int64_t channels) {
  Image out;
  out.height = height;
  out.width = width;
  out.channels = channels;
  out.pixels.assign(static_cast<size_t>(height * width * channels), 0);
  return out;
}

// What a resize reads: an image seen through zero padding of `top` rows above and `left`
// columns to the left (and as many below / right as make height x width). Letterboxing reads
// it instead of building the padded image, which for a 10752x48 strip padded to 37:23 would be
// 17296x10752 pixels (744 MB as rgba). Without padding it is the image itself.
struct ResizeSource {
  const Image& img;
  int64_t height, width, top = 0, left = 0;

  explicit ResizeSource(const Image& i) : img(i), height(i.height), width(i.width) {}
  ResizeSource(const Image& i, int64_t t, int64_t l)
      : img(i), height(i.height + 2 * t), width(i.width + 2 * l), top(t), left(l) {}
  // Row y, or null for a padding row.
  const uint8_t* row(int64_t y) const {
    y -= top;
    return y >= 0 && y < img.height ? img.pixels.data() + y * img.width * img.channels : nullptr;
  }
  // Offset of column x within a row, or -1 for a padding column.
  int64_t col(int64_t x) const {
    x -= left;
    return x >= 0 && x < img.width ? x * img.channels : -1;
  }
};

inline uint8_t read(const uint8_t* row, int64_t col, int64_t k) {
  return row && col >= 0 ? row[col + k] : 0;
}

inline Image bilinear(const ResizeSource& s, int64_t height, int64_t width) {
  struct Tap {
    int64_t lo, hi;
    float t;
  };
  auto taps = [](int64_t in_size, int64_t out_size) {
    std::vector<Tap> v(static_cast<size_t>(out_size));
    const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
    for (int64_t i = 0; i < out_size; ++i) {
      const float in = (static_cast<float>(i) + 0.5f) * scale - 0.5f;
      const float in_f = std::floor(in);
      v[static_cast<size_t>(i)] = {std::max(static_cast<int64_t>(in_f), int64_t{0}),
                                   std::min(static_cast<int64_t>(std::ceil(in)), in_size - 1),
                                   in - in_f};
    }
    return v;
  };
  std::vector<Tap> ys = taps(s.height, height), xs = taps(s.width, width);
  for (Tap& t : xs) t.lo = s.col(t.lo), t.hi = s.col(t.hi);  // column offsets from here on
  Image out = blank_image(height, width, s.img.channels);
  const int64_t c = s.img.channels;
  uint8_t* d = out.pixels.data();
  for (int64_t y = 0; y < height; ++y) {
    const Tap ty = ys[static_cast<size_t>(y)];
    const uint8_t *top = s.row(ty.lo), *bot = s.row(ty.hi);
    for (int64_t x = 0; x < width; ++x) {
      const Tap tx = xs[static_cast<size_t>(x)];
      for (int64_t k = 0; k < c; ++k) {
        const float tl = read(top, tx.lo, k), tr = read(top, tx.hi, k);
        const float bl = read(bot, tx.lo, k), br = read(bot, tx.hi, k);
        const float t = tl + (tr - tl) * tx.t;
        const float b = bl + (br - bl) * tx.t;
        const float v = t + (b - t) * ty.t;
        *d++ = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

inline Image nearest(const ResizeSource& s, int64_t height, int64_t width) {
  auto picks = [](int64_t in_size, int64_t out_size) {
    std::vector<int64_t> v(static_cast<size_t>(out_size));
    const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
    for (int64_t i = 0; i < out_size; ++i) {
      const auto k = static_cast<int64_t>(std::floor((static_cast<float>(i) + 0.5f) * scale));
      v[static_cast<size_t>(i)] = std::max(std::min(k, in_size - 1), int64_t{0});
    }
    return v;
  };
  const std::vector<int64_t> ys = picks(s.height, height), xs = picks(s.width, width);
  Image out = blank_image(height, width, s.img.channels);
  const auto c = static_cast<size_t>(s.img.channels);
  uint8_t* d = out.pixels.data();
  for (int64_t y : ys) {
    const uint8_t* row = s.row(y);
    for (int64_t x : xs) {
      const int64_t col = s.col(x);
      if (row && col >= 0) std::copy_n(row + col, c, d);  // else stays 0
      d += c;
    }
  }
  return out;
}

inline Image area(const ResizeSource& s, int64_t height, int64_t width) {
  struct Span {
    int64_t start, end;  // source cells [start, end), clamped when read
    float start_scale, end_scale;
  };
  auto spans = [](int64_t out_size, float scale) {
    // Weight of cell v for the footprint [a, b): the covered length (TF's branches, verbatim).
    auto weight = [scale](int64_t v, float a, float b) -> float {
      const auto vf = static_cast<float>(v), v1 = static_cast<float>(v + 1);
      return vf < a ? (v1 > b ? scale : v1 - a) : (v1 > b ? b - vf : 1.0f);
    };
    std::vector<Span> v(static_cast<size_t>(out_size));
    for (int64_t i = 0; i < out_size; ++i) {
      const float a = static_cast<float>(i) * scale, b = static_cast<float>(i + 1) * scale;
      Span& sp = v[static_cast<size_t>(i)];
      sp.start = static_cast<int64_t>(std::floor(a));
      sp.end = std::max(static_cast<int64_t>(std::ceil(b)), sp.start + 1);
      sp.start_scale = weight(sp.start, a, b);
      sp.end_scale = weight(sp.end - 1, a, b);
    }
    return v;
  };
  const float hs = static_cast<float>(s.height) / static_cast<float>(height);
  const float ws = static_cast<float>(s.width) / static_cast<float>(width);
  const std::vector<Span> ys = spans(height, hs), xs = spans(width, ws);
  const auto norm = static_cast<float>(1.0 / static_cast<double>(hs * ws));
  auto bound = [](int64_t v, int64_t n) { return std::min(n - 1, std::max(int64_t{0}, v)); };

  Image out = blank_image(height, width, s.img.channels);
  const int64_t c = s.img.channels;
  uint8_t* d = out.pixels.data();
  std::vector<float> yw;
  std::vector<const uint8_t*> rows;
  for (const Span& sy : ys) {
    yw.clear();
    rows.clear();
    // Letterboxed: only the image's own rows (padding rows add 0, and a strip padded to a far
    // other aspect has orders of magnitude more of them than pixels: the fuzzer found one that
    // took minutes). Unpadded: every row of the span, clamped at the edges as TF does.
    const int64_t i0 = s.top > 0 ? std::max(sy.start, s.top) : sy.start;
    const int64_t i1 = s.top > 0 ? std::min(sy.end, s.top + s.img.height) : sy.end;
    for (int64_t i = i0; i < i1; ++i) {
      yw.push_back(i == sy.start ? sy.start_scale : i == sy.end - 1 ? sy.end_scale : 1.0f);
      rows.push_back(s.row(bound(i, s.height)));
    }
    for (const Span& sx : xs) {
      const int64_t x0 = s.col(bound(sx.start, s.width)), x1 = s.col(bound(sx.end - 1, s.width));
      for (int64_t k = 0; k < c; ++k) {
        float sum = 0;
        for (size_t r = 0; r < rows.size(); ++r) {
          const uint8_t* p = rows[r];
          if (!p) continue;  // a padding row adds 0
          float sum_y = static_cast<float>(read(p, x0, k)) * sx.start_scale;
          if (sx.start + 1 != sx.end) {
            // As for rows: padding columns add 0 and are skipped when letterboxed.
            const int64_t xa = s.left > 0 ? std::max(sx.start + 1, s.left) : sx.start + 1;
            const int64_t xb = s.left > 0 ? std::min(sx.end - 1, s.left + s.img.width) : sx.end - 1;
            for (int64_t x = xa; x < xb; ++x)
              sum_y += static_cast<float>(read(p, s.col(bound(x, s.width)), k));
            sum_y += static_cast<float>(read(p, x1, k)) * sx.end_scale;
          }
          sum += sum_y * yw[r];
        }
        *d++ = static_cast<uint8_t>(std::clamp(std::lround(sum * norm), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace detail

// Bilinear resize exactly as TensorFlow's tf.image.resize(method="bilinear", antialias=False)
// (ResizeBilinear with half_pixel_centers=True): source coordinate (i + 0.5) * in/out - 0.5,
// clamped to the edges, float arithmetic in TF's order; the result is rounded (half away from
// zero) to uint8. Keras keeps the float result, so values can differ by at most 0.5 from it.
inline Image resize_bilinear(const Image& src, int64_t height, int64_t width) {
  detail::check_resize("resize_bilinear", src, height, width);
  if (height == src.height && width == src.width) return src;
  return detail::bilinear(detail::ResizeSource(src), height, width);
}

// Nearest-neighbour resize exactly as tf.image.resize(method="nearest") (ResizeNearestNeighbor
// with half_pixel_centers=True, as Keras 2.x image_dataset_from_directory calls it): output row
// y takes source row min(floor((y + 0.5) * in/out), in - 1) in float arithmetic; likewise columns.
// Pixels are copied, never blended.
inline Image resize_nearest(const Image& src, int64_t height, int64_t width) {
  detail::check_resize("resize_nearest", src, height, width);
  if (height == src.height && width == src.width) return src;
  return detail::nearest(detail::ResizeSource(src), height, width);
}

// Area resize exactly as tf.image.resize(method="area") (ResizeArea): each output pixel is the
// mean of the source over its footprint [y*in/out, (y+1)*in/out) x [x*in/out, (x+1)*in/out),
// source pixels weighted by the fraction covered (a box filter; no half-pixel option exists for
// area), summed in float in TensorFlow's order. Downscaling by a whole factor gives block means;
// upscaling by one replicates. The result is rounded (half away from zero) to uint8.
inline Image resize_area(const Image& src, int64_t height, int64_t width) {
  detail::check_resize("resize_area", src, height, width);
  if (height == src.height && width == src.width) return src;
  return detail::area(detail::ResizeSource(src), height, width);
}

// How resize_image samples (tf.image.resize's method names; Keras' `interpolation`).
enum class Interpolation { bilinear, nearest, area };

inline const char* to_string(Interpolation m) {
  return m == Interpolation::nearest ? "nearest" : m == Interpolation::area ? "area" : "bilinear";
}
// "bilinear", "nearest" or "area"; anything else throws moodnet::Error naming the choices.
inline Interpolation parse_interpolation(std::string_view s) {
  for (Interpolation m : {Interpolation::bilinear, Interpolation::nearest, Interpolation::area})
    if (s == to_string(m)) return m;
  MOODNET_FAIL("unknown interpolation '", s, "' (expected bilinear, nearest or area)");
}

inline Image resize_image(const Image& src, int64_t height, int64_t width,
                          Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::nearest:
      return resize_nearest(src, height, width);
    case Interpolation::area:
      return resize_area(src, height, width);
    case Interpolation::bilinear:
      break;
  }
  return resize_bilinear(src, height, width);
}

// The centre window of src with the aspect ratio of (height, width), as Keras' smart_resize /
// crop_to_aspect_ratio=True: crop height = int(float(src.width * height) / width), at most
// src.height and at least 1, top = int((src.height - crop height) / 2), likewise for the width.
// Only one side is ever cut.
inline Image crop_to_aspect_ratio(const Image& src, int64_t height, int64_t width) {
  detail::check_resize("crop_to_aspect_ratio", src, height, width);
  auto side = [](int64_t other, int64_t num, int64_t den, int64_t limit) {
    const auto v = static_cast<int64_t>(static_cast<float>(other * num) / static_cast<float>(den));
    return std::max(std::min(limit, v), int64_t{1});
  };
  const int64_t ch = side(src.width, height, width, src.height);
  const int64_t cw = side(src.height, width, height, src.width);
  if (ch == src.height && cw == src.width) return src;
  const int64_t top = (src.height - ch) / 2, left = (src.width - cw) / 2;
  Image out = detail::blank_image(ch, cw, src.channels);
  const auto row = static_cast<size_t>(cw * src.channels);
  for (int64_t y = 0; y < ch; ++y)
    std::copy_n(src.pixels.data() + ((top + y) * src.width + left) * src.channels, row,
                out.pixels.data() + static_cast<size_t>(y) * row);
  return out;
}

namespace detail {

// Keras 3's letterbox margins for src and a (height, width) target: {rows above (and below),
// columns left (and right)}.
inline std::pair<int64_t, int64_t> pad_margins(const Image& src, int64_t height, int64_t width) {
  auto margin = [](int64_t own, int64_t other, int64_t num, int64_t den) {
    const auto v = static_cast<int64_t>(static_cast<float>(other * num) / static_cast<float>(den));
    return (std::max(own, v) - own) / 2;
  };
  return {margin(src.height, src.width, height, width),
          margin(src.width, src.height, width, height)};
}

}  // namespace detail

// src letterboxed with zeros to the aspect ratio of (height, width), as Keras 3's
// pad_to_aspect_ratio=True: padded height = max(src.height, int(float(src.width * height) /
// width)), and int((padded - src.height) / 2) zero rows go above and the same number below (so
// an odd difference leaves the result one row short of the exact ratio); likewise columns.
// resize_image(..., pad_to_aspect_ratio) gives the same pixels without building this image; a
// padded image over default_max_image_pixels is refused.
inline Image pad_to_aspect_ratio(const Image& src, int64_t height, int64_t width) {
  detail::check_resize("pad_to_aspect_ratio", src, height, width);
  const auto [top, left] = detail::pad_margins(src, height, width);
  if (top == 0 && left == 0) return src;
  const int64_t ph = src.height + 2 * top, pw = src.width + 2 * left;
  MOODNET_CHECK(ph <= default_max_image_pixels / pw, "pad_to_aspect_ratio: ", src.height, "x",
                src.width, " padded to the aspect of ", height, "x", width, " would be ", ph, "x",
                pw, " pixels, over the limit of ", default_max_image_pixels);
  Image out = detail::blank_image(ph, pw, src.channels);
  const auto row = static_cast<size_t>(src.width * src.channels);
  for (int64_t y = 0; y < src.height; ++y)
    std::copy_n(src.pixels.data() + static_cast<size_t>(y) * row, row,
                out.pixels.data() + ((top + y) * out.width + left) * src.channels);
  return out;
}

// How an image is brought to a training size (Keras image_dataset_from_directory's
// interpolation, crop_to_aspect_ratio and pad_to_aspect_ratio). The default stretches with
// bilinear interpolation.
struct ResizeOptions {
  Interpolation interpolation = Interpolation::bilinear;
  bool crop_to_aspect_ratio = false;  // centre-crop to the target aspect ratio, then resize
  bool pad_to_aspect_ratio = false;   // pad with zeros to the target aspect ratio, then resize
  void validate() const {
    MOODNET_CHECK(!(crop_to_aspect_ratio && pad_to_aspect_ratio),
                  "resize: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be set");
  }
};

inline Image resize_image(const Image& src, int64_t height, int64_t width,
                          const ResizeOptions& opt) {
  opt.validate();
  if (opt.crop_to_aspect_ratio)
    return resize_image(crop_to_aspect_ratio(src, height, width), height, width, opt.interpolation);
  if (opt.pad_to_aspect_ratio) {
    detail::check_resize("resize_image", src, height, width);
    const auto [top, left] = detail::pad_margins(src, height, width);
    if (top == 0 && left == 0) return resize_image(src, height, width, opt.interpolation);
    const detail::ResizeSource padded(src, top, left);
    switch (opt.interpolation) {
      case Interpolation::nearest:
        return detail::nearest(padded, height, width);
      case Interpolation::area:
        return detail::area(padded, height, width);
      case Interpolation::bilinear:
        break;
    }
    return detail::bilinear(padded, height, width);
  }
  return resize_image(src, height, width, opt.interpolation);
}

// decode_image + resize_bilinear to (height, width).
inline Image load_image(const std::filesystem::path& file, int64_t height, int64_t width,
                        ColorMode mode, int64_t max_pixels = default_max_image_pixels) {
  return resize_bilinear(decode_image(file, mode, max_pixels), height, width);
}

// decode_image + resize_image(opt) to (height, width).
inline Image load_image(const std::filesystem::path& file, int64_t height, int64_t width,
                        ColorMode mode, const ResizeOptions& opt,
                        int64_t max_pixels = default_max_image_pixels) {
  opt.validate();
  return resize_image(decode_image(file, mode, max_pixels), height, width, opt);
}

}  // namespace moodnet
