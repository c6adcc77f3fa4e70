// Image decoding (stb_image) and TensorFlow-compatible bilinear resizing, on 8-bit HWC images.
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
#include <vector>

#include "../config.hpp"

namespace moodnet {

// rgb: 3 channels (alpha dropped, gray replicated). grayscale: 1 channel, ITU-R 601 luma.
enum class ColorMode { rgb, grayscale };

inline const char* to_string(ColorMode m) {
  return m == ColorMode::grayscale ? "grayscale" : "rgb";
}
inline int64_t num_channels(ColorMode m) { return m == ColorMode::grayscale ? 1 : 3; }

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
  // Pillow's, not stb's own approximation (or the JPEG's Y plane).
  const bool gray_source = (c == 1 || c == 2);
  const int req = (mode == ColorMode::grayscale && gray_source) ? 1 : 3;
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
  if (req == 1 || mode == ColorMode::rgb) {
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

// Bilinear resize exactly as TensorFlow's tf.image.resize(method="bilinear", antialias=False)
// (ResizeBilinear with half_pixel_centers=True): source coordinate (i + 0.5) * in/out - 0.5,
// clamped to the edges, float arithmetic in TF's order; the result is rounded (half away from
// zero) to uint8. Keras keeps the float result, so values can differ by at most 0.5 from it.
inline Image resize_bilinear(const Image& src, int64_t height, int64_t width) {
  MOODNET_CHECK(height > 0 && width > 0, "resize_bilinear: target size ", height, "x", width,
                " must be positive");
  MOODNET_CHECK(
      src.height > 0 && src.width > 0 && src.channels > 0 &&
          static_cast<int64_t>(src.pixels.size()) == src.height * src.width * src.channels,
      "resize_bilinear: invalid source image ", src.height, "x", src.width, "x", src.channels,
      " with ", src.pixels.size(), " bytes");
  if (height == src.height && width == src.width) return src;

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
  const std::vector<Tap> ys = taps(src.height, height), xs = taps(src.width, width);

  Image out;
  out.height = height;
  out.width = width;
  out.channels = src.channels;
  out.pixels.resize(static_cast<size_t>(height * width * src.channels));
  const int64_t c = src.channels;
  const uint8_t* s = src.pixels.data();
  uint8_t* d = out.pixels.data();
  for (int64_t y = 0; y < height; ++y) {
    const Tap ty = ys[static_cast<size_t>(y)];
    const uint8_t* top = s + ty.lo * src.width * c;
    const uint8_t* bot = s + ty.hi * src.width * c;
    for (int64_t x = 0; x < width; ++x) {
      const Tap tx = xs[static_cast<size_t>(x)];
      for (int64_t k = 0; k < c; ++k) {
        const float tl = top[tx.lo * c + k], tr = top[tx.hi * c + k];
        const float bl = bot[tx.lo * c + k], br = bot[tx.hi * c + k];
        const float t = tl + (tr - tl) * tx.t;
        const float b = bl + (br - bl) * tx.t;
        const float v = t + (b - t) * ty.t;
        *d++ = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

// decode_image + resize_bilinear to (height, width).
inline Image load_image(const std::filesystem::path& file, int64_t height, int64_t width,
                        ColorMode mode, int64_t max_pixels = default_max_image_pixels) {
  return resize_bilinear(decode_image(file, mode, max_pixels), height, width);
}

}  // namespace moodnet
