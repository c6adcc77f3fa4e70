// Image augmentation with Keras ImageDataGenerator semantics (the offline "augment a folder
// xN" tool is in augment_folder.hpp).
//
// What follows Keras (keras.src.legacy.preprocessing.image: get_random_transform,
// apply_transform, apply_affine_transform) and what does not:
// - Parameters: the ImageDataGenerator names and meanings. rotation_range and shear_range are in
//   degrees, drawn uniformly in +-range. A shift range < 1 is a fraction of the height/width, >= 1
//   a number of pixels, drawn uniformly in +-range (Keras draws integer pixel counts when it is
//   given a Python int; moodnet always draws a real number). zoom_range [lo, hi]: zx (rows) and
//   zy (columns) drawn independently; a value > 1 samples farther out, so the content shrinks.
// - One affine pull-back map: input = C * R(theta) * T(tx, ty) * Shear * Zoom * C^-1 * output, in
//   (row, column) coordinates about the image centre ((h-1)/2, (w-1)/2), the flips folded in;
//   one resampling pass, bilinear (Keras' interpolation_order=1, an order-1 spline, which is
//   bilinear interpolation and needs no prefilter). This is the matrix of Keras as released up
//   to keras-preprocessing 1.1.0 (TF <= 2.3), where height_shift_range moves rows and
//   width_shift_range columns as documented. Later Keras conjugates the matrix by the x/y swap
//   but kept the shift draws, so its height_shift_range moves columns (keras-team/keras#17398);
//   on a square image its warp for (theta, tx, ty, zx, zy) is moodnet's for (-theta, ty, tx, zy,
//   zx), the same distribution when both shift ranges are equal (as in every seed); only its
//   shear acts along the other axis. (Checked against scipy 1.10 and Pillow 9.4.)
// - Outside the image, fill_mode follows scipy.ndimage.affine_transform (order 1) exactly:
//   nearest (aaaa|abcd|dddd); constant: any sample outside [0, n-1] on either axis is cval (no
//   blending with cval at the border); reflect: half-sample symmetric (dcba|abcd|dcba); wrap:
//   scipy's 'wrap', whose period is n-1 (first and last samples overlap), not Keras' diagram
//   (that would be scipy's 'grid-wrap').
// - Then, as Keras: channel shift (one intensity added to every channel, clipped to the min and
//   max of the warped image, not to [0, 255]); brightness (Pillow ImageEnhance: the image is
//   truncated to uint8, multiplied by a float32 factor, truncated and clipped to [0, 255]).
// - The warp is computed in double; an 8-bit output is rounded half up, a float output keeps
//   the value (times scale), as Keras keeps floats.
// - Random draws come from the counter RNG keyed by (seed, epoch, index), one stream per
//   parameter: the same key gives the same bytes on any thread, in any order.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../core/random.hpp"
#include "folder.hpp"
#include "image.hpp"

namespace moodnet {

enum class FillMode { nearest, constant, reflect, wrap };

inline const char* to_string(FillMode m) {
  static const char* const names[] = {"nearest", "constant", "reflect", "wrap"};
  return names[static_cast<int>(m)];
}

// ImageDataGenerator's augmentation parameters (defaults: nothing enabled).
struct Augmentation {
  double rotation_range = 0;      // degrees
  double width_shift_range = 0;   // < 1: fraction of the width; >= 1: pixels
  double height_shift_range = 0;  // < 1: fraction of the height; >= 1: pixels
  double shear_range = 0;         // degrees
  std::array<double, 2> zoom_range{1.0, 1.0};
  bool horizontal_flip = false;
  bool vertical_flip = false;
  FillMode fill_mode = FillMode::nearest;
  double cval = 0;  // fill value for FillMode::constant, in [0, 255]
  std::optional<std::array<double, 2>> brightness_range;
  double channel_shift_range = 0;

  // Keras' float zoom_range z: [1 - z, 1 + z].
  Augmentation& set_zoom(double z) {
    zoom_range = {1.0 - z, 1.0 + z};
    return *this;
  }
  bool geometric() const {
    return rotation_range != 0 || width_shift_range != 0 || height_shift_range != 0 ||
           shear_range != 0 || zoom_range[0] != 1 || zoom_range[1] != 1;
  }
  bool enabled() const {
    return geometric() || horizontal_flip || vertical_flip || brightness_range.has_value() ||
           channel_shift_range != 0;
  }
  // Throws moodnet::Error naming the first bad parameter.
  void validate() const {
    auto ok = [](double v) { return std::isfinite(v) && v >= 0; };
    for (const auto& [name, v] : {std::pair{"rotation_range", rotation_range},
                                  {"width_shift_range", width_shift_range},
                                  {"height_shift_range", height_shift_range},
                                  {"shear_range", shear_range},
                                  {"channel_shift_range", channel_shift_range}})
      MOODNET_CHECK(ok(v), "augmentation: ", name, " ", v, " must be a finite number >= 0");
    MOODNET_CHECK(ok(zoom_range[0]) && ok(zoom_range[1]) && zoom_range[0] > 0 &&
                      zoom_range[0] <= zoom_range[1],
                  "augmentation: zoom_range [", zoom_range[0], ", ", zoom_range[1],
                  "] must satisfy 0 < lo <= hi");
    MOODNET_CHECK(std::isfinite(cval) && cval >= 0 && cval <= 255, "augmentation: cval ", cval,
                  " must lie in [0, 255]");
    if (brightness_range) {
      const auto [lo, hi] = *brightness_range;
      MOODNET_CHECK(ok(lo) && ok(hi) && lo <= hi, "augmentation: brightness_range [", lo, ", ", hi,
                    "] must satisfy 0 <= lo <= hi");
    }
  }
  bool operator==(const Augmentation&) const = default;
};

// One draw of the random parameters (Keras' get_random_transform), in pixels and degrees.
struct AugmentParams {
  double theta = 0;       // rotation, degrees
  double tx = 0;          // shift along rows (height), pixels
  double ty = 0;          // shift along columns (width), pixels
  double shear = 0;       // degrees
  double zx = 1, zy = 1;  // zoom along rows, columns
  bool flip_horizontal = false, flip_vertical = false;
  std::optional<double> channel_shift_intensity;
  std::optional<double> brightness;
};

// Draws the parameters for an image of height x width keyed by (seed, epoch, index).
inline AugmentParams random_augment_params(const Augmentation& a, int64_t height, int64_t width,
                                           uint64_t seed, uint64_t epoch, uint64_t index) {
  auto u = [&](uint64_t param, double lo, double hi) {
    const uint64_t stream = stream_id(0x6d6e2d61756700ULL + param, epoch);
    return lo + (hi - lo) * random_uniform(seed, stream, index);
  };
  AugmentParams p;
  if (a.rotation_range != 0) p.theta = u(1, -a.rotation_range, a.rotation_range);
  if (a.height_shift_range != 0) {
    p.tx = u(2, -a.height_shift_range, a.height_shift_range);
    if (a.height_shift_range < 1) p.tx *= static_cast<double>(height);
  }
  if (a.width_shift_range != 0) {
    p.ty = u(3, -a.width_shift_range, a.width_shift_range);
    if (a.width_shift_range < 1) p.ty *= static_cast<double>(width);
  }
  if (a.shear_range != 0) p.shear = u(4, -a.shear_range, a.shear_range);
  if (a.zoom_range[0] != 1 || a.zoom_range[1] != 1) {
    p.zx = u(5, a.zoom_range[0], a.zoom_range[1]);
    p.zy = u(6, a.zoom_range[0], a.zoom_range[1]);
  }
  p.flip_horizontal = a.horizontal_flip && u(7, 0, 1) < 0.5;
  p.flip_vertical = a.vertical_flip && u(8, 0, 1) < 0.5;
  if (a.channel_shift_range != 0)
    p.channel_shift_intensity = u(9, -a.channel_shift_range, a.channel_shift_range);
  if (a.brightness_range) p.brightness = u(10, (*a.brightness_range)[0], (*a.brightness_range)[1]);
  return p;
}

namespace detail {

using Mat3 = std::array<double, 9>;  // row-major 3x3

inline Mat3 mat3_mul(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return c;
}

// The pull-back map (row, col) of the output -> (row, col) of the input, flips included.
inline Mat3 augment_matrix(const AugmentParams& p, int64_t h, int64_t w) {
  constexpr double deg = 3.14159265358979323846 / 180.0;
  Mat3 m{1, 0, 0, 0, 1, 0, 0, 0, 1};
  if (p.theta != 0) {
    const double t = p.theta * deg, c = std::cos(t), s = std::sin(t);
    m = Mat3{c, -s, 0, s, c, 0, 0, 0, 1};
  }
  if (p.tx != 0 || p.ty != 0) m = mat3_mul(m, Mat3{1, 0, p.tx, 0, 1, p.ty, 0, 0, 1});
  if (p.shear != 0) {
    const double s = p.shear * deg;
    m = mat3_mul(m, Mat3{1, -std::sin(s), 0, 0, std::cos(s), 0, 0, 0, 1});
  }
  if (p.zx != 1 || p.zy != 1) m = mat3_mul(m, Mat3{p.zx, 0, 0, 0, p.zy, 0, 0, 0, 1});
  const double oy = static_cast<double>(h) / 2 - 0.5, ox = static_cast<double>(w) / 2 - 0.5;
  m = mat3_mul(mat3_mul(Mat3{1, 0, oy, 0, 1, ox, 0, 0, 1}, m), Mat3{1, 0, -oy, 0, 1, -ox, 0, 0, 1});
  // Keras flips after warping: out(r, c) = warped(h-1-r, c) / warped(r, w-1-c).
  if (p.flip_vertical) m = mat3_mul(m, Mat3{-1, 0, 2 * oy, 0, 1, 0, 0, 0, 1});
  if (p.flip_horizontal) m = mat3_mul(m, Mat3{1, 0, 0, 0, -1, 2 * ox, 0, 0, 1});
  return m;
}

// scipy.ndimage's map_coordinate for one axis of length n: brings x into the range its two
// interpolation taps (floor(x), floor(x)+1, clamped to [0, n-1]) need; false means cval.
inline bool map_coordinate(double& x, int64_t n, FillMode mode) {
  const double last = static_cast<double>(n - 1);
  if (x >= 0 && x <= last) return true;
  if (mode == FillMode::constant) {
    // Snap rounding noise (e.g. cos 90 deg = 6e-17) instead of treating it as outside.
    if (x >= -1e-9 && x <= last + 1e-9) return x = std::clamp(x, 0.0, last), true;
    return false;
  }
  if (n <= 1) return x = 0, true;
  if (mode == FillMode::nearest) return x = x < 0 ? 0 : last, true;
  if (mode == FillMode::reflect) {
    const double p = 2.0 * static_cast<double>(n);
    x -= p * std::floor(x / p);  // [0, 2n)
    if (x >= static_cast<double>(n)) x = p - x - 1;
    return true;
  }
  if (x < 0) return x += last * (std::trunc(-x / last) + 1), true;  // wrap, period n-1
  return x -= last * std::trunc(x / last), true;
}

struct PixelSink {
  uint8_t* u8 = nullptr;
  float* f32 = nullptr;
  float scale = 1;
};

inline void warp_pixels(const uint8_t* src, int64_t h, int64_t w, int64_t ch,
                        const AugmentParams& p, FillMode fill, double cval, PixelSink out) {
  const Mat3 m = augment_matrix(p, h, w);
  // Bilinear sample of the output pixel (r, c) into v[0..ch).
  auto sample = [&](int64_t r, int64_t c, double* v) {
    const double rr = static_cast<double>(r), cc = static_cast<double>(c);
    double y = m[0] * rr + m[1] * cc + m[2], x = m[3] * rr + m[4] * cc + m[5];
    if (!map_coordinate(y, h, fill) || !map_coordinate(x, w, fill)) {
      for (int64_t k = 0; k < ch; ++k) v[k] = cval;
      return;
    }
    const double yf = std::floor(y), xf = std::floor(x), ty = y - yf, tx = x - xf;
    const auto y0 = std::clamp(static_cast<int64_t>(yf), int64_t{0}, h - 1);
    const auto y1 = std::clamp(static_cast<int64_t>(yf) + 1, int64_t{0}, h - 1);
    const auto x0 = std::clamp(static_cast<int64_t>(xf), int64_t{0}, w - 1);
    const auto x1 = std::clamp(static_cast<int64_t>(xf) + 1, int64_t{0}, w - 1);
    const uint8_t *a = src + (y0 * w + x0) * ch, *b = src + (y0 * w + x1) * ch;
    const uint8_t *c0 = src + (y1 * w + x0) * ch, *d = src + (y1 * w + x1) * ch;
    for (int64_t k = 0; k < ch; ++k) {
      const double top = (1 - tx) * a[k] + tx * b[k], bot = (1 - tx) * c0[k] + tx * d[k];
      v[k] = (1 - ty) * top + ty * bot;
    }
  };
  double v[16];
  // Keras clips the channel shift to the min and max of the whole warped image: a first pass.
  double lo = 0, hi = 255;
  if (p.channel_shift_intensity) {
    lo = 255, hi = 0;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        sample(r, c, v);
        for (int64_t k = 0; k < ch; ++k) lo = std::min(lo, v[k]), hi = std::max(hi, v[k]);
      }
  }
  const float bright = p.brightness ? static_cast<float>(*p.brightness) : 1.0f;
  int64_t i = 0;
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      sample(r, c, v);
      for (int64_t k = 0; k < ch; ++k, ++i) {
        double x = v[k];
        if (p.channel_shift_intensity) x = std::clamp(x + *p.channel_shift_intensity, lo, hi);
        if (p.brightness) {  // Pillow: uint8(uint8(x) * factor), clipped
          const float t = bright * static_cast<float>(static_cast<uint8_t>(x));
          x = t >= 255.0f ? 255.0 : std::trunc(static_cast<double>(t));
        }
        if (out.u8)
          out.u8[i] = static_cast<uint8_t>(std::min(std::floor(x + 0.5), 255.0));
        else
          out.f32[i] = static_cast<float>(x) * out.scale;
      }
    }
}

inline void check_pixels(const void* src, int64_t h, int64_t w, int64_t c, const void* dst,
                         double cval = 0) {
  MOODNET_CHECK(h > 0 && w > 0 && c > 0 && c <= 16, "augment: invalid image size ", h, "x", w, "x",
                c);
  MOODNET_CHECK(src && dst && src != dst, "augment: source and output must be distinct buffers");
  MOODNET_CHECK(cval >= 0 && cval <= 255, "augment: cval ", cval, " must lie in [0, 255]");
}

}  // namespace detail

// Applies fixed parameters (Keras' apply_transform) to an (h, w, c) 8-bit image into dst (same
// size, not overlapping src). No allocation.
inline void apply_augment_params(const uint8_t* src, int64_t h, int64_t w, int64_t c,
                                 const AugmentParams& p, FillMode fill, double cval, uint8_t* dst) {
  detail::check_pixels(src, h, w, c, dst, cval);
  detail::warp_pixels(src, h, w, c, p, fill, cval, {dst, nullptr, 1});
}
inline void apply_augment_params(const uint8_t* src, int64_t h, int64_t w, int64_t c,
                                 const AugmentParams& p, FillMode fill, double cval, float* dst,
                                 float scale = 1.0f) {
  detail::check_pixels(src, h, w, c, dst, cval);
  detail::warp_pixels(src, h, w, c, p, fill, cval, {nullptr, dst, scale});
}

// Augments (h, w, c) 8-bit pixels into dst (8-bit, or float times scale, as Keras' float
// output), drawing the parameters keyed by (seed, epoch, index). No allocation.
template <class T>
void augment_pixels(const uint8_t* src, int64_t h, int64_t w, int64_t c, const Augmentation& a,
                    uint64_t seed, uint64_t epoch, uint64_t index, T* dst, float scale = 1.0f) {
  static_assert(std::is_same_v<T, uint8_t> || std::is_same_v<T, float>);
  a.validate();
  detail::check_pixels(src, h, w, c, dst);
  const int64_t n = h * w * c;
  if (!a.enabled()) {
    if constexpr (std::is_same_v<T, uint8_t>)
      std::memcpy(dst, src, static_cast<size_t>(n));
    else
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * scale;
    return;
  }
  const AugmentParams p = random_augment_params(a, h, w, seed, epoch, index);
  if constexpr (std::is_same_v<T, uint8_t>)
    detail::warp_pixels(src, h, w, c, p, a.fill_mode, a.cval, {dst, nullptr, 1});
  else
    detail::warp_pixels(src, h, w, c, p, a.fill_mode, a.cval, {nullptr, dst, scale});
}

// Augments src into out (resized to src's shape; no allocation once out has the capacity).
inline void augment_image(const Image& src, const Augmentation& a, uint64_t seed, uint64_t epoch,
                          uint64_t index, Image& out) {
  MOODNET_CHECK(&src != &out, "augment_image: source and output must be distinct images");
  MOODNET_CHECK(static_cast<int64_t>(src.pixels.size()) == src.height * src.width * src.channels,
                "augment_image: invalid source image ", src.height, "x", src.width, "x",
                src.channels, " with ", src.pixels.size(), " bytes");
  out.height = src.height, out.width = src.width, out.channels = src.channels;
  out.pixels.resize(src.pixels.size());
  augment_pixels(src.pixels.data(), src.height, src.width, src.channels, a, seed, epoch, index,
                 out.pixels.data());
}

inline Image augment_image(const Image& src, const Augmentation& a, uint64_t seed, uint64_t epoch,
                           uint64_t index) {
  Image out;
  augment_image(src, a, seed, epoch, index, out);
  return out;
}

// ---- Text form: the CLI's --augment syntax --------------------------------------------------

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline double parse_number(std::string_view key, std::string_view text) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MOODNET_CHECK(
      !text.empty() && ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(v),
      "parse_augmentation: bad value '", text, "' for ", key, " (expected a number)");
  return v;
}

inline std::array<double, 2> parse_pair(std::string_view key, std::string_view text) {
  const auto colon = text.find(':');
  MOODNET_CHECK(colon != std::string_view::npos, "parse_augmentation: bad value '", text, "' for ",
                key, " (expected lo:hi, e.g. 0.8:1.2)");
  return {parse_number(key, trim(text.substr(0, colon))),
          parse_number(key, trim(text.substr(colon + 1)))};
}

inline std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace detail

// The augmentation of a seed project by name: "seed000" (alias "seed000-augment") and "seed003"
// (ARCHITECTURES.md, "Training protocols"). The other seeds used none.
inline const std::vector<std::string>& augmentation_preset_names() {
  static const std::vector<std::string> names{"seed000", "seed000-augment", "seed003"};
  return names;
}

inline Augmentation augmentation_preset(std::string_view name) {
  Augmentation a;
  if (name == "seed000" || name == "seed000-augment") {
    // rotation 40, width/height shift 0.2, shear 0.2, zoom 0.2, horizontal flip, fill nearest.
    a.rotation_range = 40;
    a.width_shift_range = a.height_shift_range = 0.2;
    a.shear_range = 0.2;
    a.set_zoom(0.2);
    a.horizontal_flip = true;
  } else if (name == "seed003") {
    // offline x10: rotation 10, shift 0.1, shear 0.15, zoom 0.1, channel shift 10, h-flip.
    a.rotation_range = 10;
    a.width_shift_range = a.height_shift_range = 0.1;
    a.shear_range = 0.15;
    a.set_zoom(0.1);
    a.channel_shift_range = 10;
    a.horizontal_flip = true;
  } else {
    MOODNET_FAIL("augmentation_preset: unknown preset '", name,
                 "' (known: seed000, seed000-augment, seed003)");
  }
  return a;
}

// Parses "rotation=40,shift=0.2,shear=0.2,zoom=0.2,hflip". Keys (short and Keras names):
// rotation|rotation_range, shift (both shifts), width_shift|width_shift_range,
// height_shift|height_shift_range, shear|shear_range, zoom|zoom_range (z or lo:hi),
// hflip|horizontal_flip, vflip|vertical_flip (flags, or =true/false/1/0),
// fill|fill_mode=nearest|constant|reflect|wrap, cval, brightness|brightness_range=lo:hi,
// channel_shift|channel_shift_range. "" or "none" is no augmentation; a preset name alone is
// that preset. A key given twice, an unknown key or a bad value throws moodnet::Error naming it.
inline Augmentation parse_augmentation(std::string_view spec) {
  using namespace std::string_view_literals;
  spec = detail::trim(spec);
  Augmentation a;
  if (spec.empty() || spec == "none") return a;
  for (const auto& n : augmentation_preset_names())
    if (spec == n) return augmentation_preset(spec);
  struct Key {
    const char *keras, *brief;
    double Augmentation::*number;  // null: not a plain number
  };
  static const Key keys[] = {
      {"rotation_range", "rotation", &Augmentation::rotation_range},
      {"width_shift_range", "width_shift", &Augmentation::width_shift_range},
      {"height_shift_range", "height_shift", &Augmentation::height_shift_range},
      {"shear_range", "shear", &Augmentation::shear_range},
      {"zoom_range", "zoom", nullptr},
      {"horizontal_flip", "hflip", nullptr},
      {"vertical_flip", "vflip", nullptr},
      {"fill_mode", "fill", nullptr},
      {"cval", "cval", &Augmentation::cval},
      {"brightness_range", "brightness", nullptr},
      {"channel_shift_range", "channel_shift", &Augmentation::channel_shift_range}};
  std::set<std::string> seen;
  auto once = [&](std::string_view field, std::string_view key) {
    MOODNET_CHECK(seen.insert(std::string(field)).second, "parse_augmentation: ", field,
                  " is given twice (at '", key, "')");
  };
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const std::string_view item = detail::trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    MOODNET_CHECK(!item.empty(), "parse_augmentation: empty item (two commas in a row?)");
    const auto eq = item.find('=');
    const std::string_view key = detail::trim(item.substr(0, eq));
    const bool has_value = eq != std::string_view::npos;
    const std::string_view val = has_value ? detail::trim(item.substr(eq + 1)) : ""sv;
    auto number = [&] {
      MOODNET_CHECK(has_value, "parse_augmentation: ", key, " needs a value (", key, "=...)");
      return detail::parse_number(key, val);
    };
    if (key == "shift") {
      once("width_shift_range", key), once("height_shift_range", key);
      a.width_shift_range = a.height_shift_range = number();
      continue;
    }
    const Key* k = std::find_if(std::begin(keys), std::end(keys),
                                [&](const Key& k) { return key == k.keras || key == k.brief; });
    MOODNET_CHECK(k != std::end(keys), "parse_augmentation: unknown key '", key,
                  "' (known: rotation, shift, width_shift, height_shift, shear, zoom, hflip, "
                  "vflip, fill, cval, brightness, channel_shift, or the Keras names)");
    const std::string_view field = k->keras;
    once(field, key);
    if (k->number) {
      a.*(k->number) = number();
    } else if (field == "zoom_range") {
      if (val.find(':') != std::string_view::npos)
        a.zoom_range = detail::parse_pair(key, val);
      else
        a.set_zoom(number());
    } else if (field == "brightness_range") {
      MOODNET_CHECK(has_value, "parse_augmentation: ", key, " needs a value (", key, "=lo:hi)");
      a.brightness_range = detail::parse_pair(key, val);
    } else if (field == "fill_mode") {
      int m = 0;
      while (m < 4 && val != to_string(static_cast<FillMode>(m))) ++m;
      MOODNET_CHECK(m < 4, "parse_augmentation: bad value '", val, "' for ", key,
                    " (expected nearest, constant, reflect or wrap)");
      a.fill_mode = static_cast<FillMode>(m);
    } else {  // a flip: a flag, or =true/false/1/0
      MOODNET_CHECK(!has_value || val == "true" || val == "false" || val == "1" || val == "0",
                    "parse_augmentation: bad value '", val, "' for ", key,
                    " (expected true, false, 1 or 0)");
      (field == "horizontal_flip" ? a.horizontal_flip : a.vertical_flip) =
          !has_value || val == "true" || val == "1";
    }
  }
  try {
    a.validate();
  } catch (const Error& e) {
    MOODNET_FAIL("parse_augmentation: ", e.what());
  }
  return a;
}

// The short text form; parse_augmentation(to_string(a)) == a. "none" when nothing is enabled.
inline std::string to_string(const Augmentation& a) {
  using detail::format_number;
  std::string s;
  auto add = [&](std::string_view item) { s += (s.empty() ? "" : ",") + std::string(item); };
  if (a.rotation_range != 0) add("rotation=" + format_number(a.rotation_range));
  if (a.width_shift_range == a.height_shift_range) {
    if (a.width_shift_range != 0) add("shift=" + format_number(a.width_shift_range));
  } else {
    if (a.width_shift_range != 0) add("width_shift=" + format_number(a.width_shift_range));
    if (a.height_shift_range != 0) add("height_shift=" + format_number(a.height_shift_range));
  }
  if (a.shear_range != 0) add("shear=" + format_number(a.shear_range));
  const auto [zlo, zhi] = a.zoom_range;
  if (zlo != 1 || zhi != 1) {
    // "zoom=z" when some short z gives exactly [1 - z, 1 + z] back, else "zoom=lo:hi".
    std::string item = "zoom=" + format_number(zlo) + ":" + format_number(zhi);
    for (double cand : {zhi - 1, 1 - zlo}) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", cand);
      const double z = std::strtod(buf, nullptr);
      if (1 - z == zlo && 1 + z == zhi) {
        item = std::string("zoom=") + buf;
        break;
      }
    }
    add(item);
  }
  if (a.horizontal_flip) add("hflip");
  if (a.vertical_flip) add("vflip");
  if (a.fill_mode != FillMode::nearest) add(std::string("fill=") + to_string(a.fill_mode));
  if (a.cval != 0) add("cval=" + format_number(a.cval));
  if (a.brightness_range)
    add("brightness=" + format_number((*a.brightness_range)[0]) + ":" +
        format_number((*a.brightness_range)[1]));
  if (a.channel_shift_range != 0) add("channel_shift=" + format_number(a.channel_shift_range));
  return s.empty() ? "none" : s;
}

}  // namespace moodnet
