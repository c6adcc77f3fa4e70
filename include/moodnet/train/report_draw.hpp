// Drawing for training reports (train/report.hpp): a small RGB raster canvas with filled
// rectangles, thick lines and text in a 5x7 bitmap font (digits, A-Z with lower case drawn as
// upper case, a little punctuation; other bytes draw as '?') for the PNG renderings (curves.png,
// confusion.png), and SvgPlot, the frame of the report page's inline SVG charts.
// PNG encoding uses stb_image_write from the system libstb the moodnet target links.
#pragma once

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../config.hpp"

namespace moodnet::draw {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};

inline constexpr Color white{255, 255, 255}, black{0, 0, 0}, grey{170, 170, 170},
    light_grey{232, 232, 232}, dark{40, 40, 40}, blue{31, 119, 180}, orange{255, 127, 14};

namespace detail {
// Rows of 5 bits (bit 4 = leftmost column), top row first.
inline constexpr std::string_view font_chars =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .,-_:%/()=+?<>&'#";
inline constexpr uint8_t font_rows[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D},
    {0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}};
static_assert(sizeof(font_rows) / sizeof(font_rows[0]) == font_chars.size());

inline const uint8_t* glyph(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  size_t i = font_chars.find(c);
  if (i == std::string_view::npos) i = font_chars.find('?');
  return font_rows[i];
}
}  // namespace detail

// One glyph cell is 6x8 font pixels (5x7 plus spacing), each drawn as scale x scale pixels.
inline int text_width(std::string_view s, int scale) {
  return static_cast<int>(s.size()) * 6 * scale - (s.empty() ? 0 : scale);
}
inline int text_height(int scale) { return 7 * scale; }

// `s` cut to at most `max_chars` characters, ending in '.' when cut.
inline std::string fit_text(std::string_view s, size_t max_chars) {
  if (s.size() <= max_chars) return std::string(s);
  if (max_chars == 0) return {};
  return std::string(s.substr(0, max_chars - 1)) + ".";
}

class Canvas {
 public:
  Canvas(int width, int height, Color background = white) : w_(width), h_(height) {
    MOODNET_CHECK(width > 0 && height > 0, "draw::Canvas: size ", width, "x", height,
                  " must be positive");
    px_.resize(static_cast<size_t>(w_) * static_cast<size_t>(h_) * 3);
    fill_rect(0, 0, w_, h_, background);
  }
  int width() const { return w_; }
  int height() const { return h_; }
  const std::vector<uint8_t>& pixels() const { return px_; }  // RGB, row-major

  void set(int x, int y, Color c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p =
        &px_[(static_cast<size_t>(y) * static_cast<size_t>(w_) + static_cast<size_t>(x)) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill_rect(int x, int y, int w, int h, Color c) {
    for (int j = std::max(0, y); j < std::min(h_, y + h); ++j)
      for (int i = std::max(0, x); i < std::min(w_, x + w); ++i) set(i, j, c);
  }
  void rect_outline(int x, int y, int w, int h, Color c) {
    fill_rect(x, y, w, 1, c);
    fill_rect(x, y + h - 1, w, 1, c);
    fill_rect(x, y, 1, h, c);
    fill_rect(x + w - 1, y, 1, h, c);
  }
  // A line `thickness` pixels wide (square pen); every `dash`-th run of pixels skipped if > 0.
  void line(double x0, double y0, double x1, double y1, Color c, int thickness = 1, int dash = 0) {
    const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
    const int steps = std::max(1, static_cast<int>(std::ceil(len)));
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int s = 0; s <= steps; ++s) {
      if (dash > 0 && (s / dash) % 2 == 1) continue;
      const double t = double(s) / steps;
      const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
      const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      for (int dy = lo; dy <= hi; ++dy)
        for (int dx = lo; dx <= hi; ++dx) set(x + dx, y + dy, c);
    }
  }
  // Text with its top-left corner at (x, y).
  void text(int x, int y, std::string_view s, Color c, int scale = 1) {
    for (char ch : s) {
      const uint8_t* g = detail::glyph(ch);
      for (int r = 0; r < 7; ++r)
        for (int col = 0; col < 5; ++col)
          if (g[r] & (0x10 >> col)) fill_rect(x + col * scale, y + r * scale, scale, scale, c);
      x += 6 * scale;
    }
  }
  void text_centered(int cx, int y, std::string_view s, Color c, int scale = 1) {
    text(cx - text_width(s, scale) / 2, y, s, c, scale);
  }
  void text_right(int right, int y, std::string_view s, Color c, int scale = 1) {
    text(right - text_width(s, scale), y, s, c, scale);
  }

  // The canvas as PNG file bytes.
  std::vector<uint8_t> png() const { return encode_png(px_.data(), w_, h_, 3); }

  static std::vector<uint8_t> encode_png(const uint8_t* pixels, int w, int h, int channels) {
    std::vector<uint8_t> out;
    auto sink = [](void* ctx, void* data, int size) {
      auto* v = static_cast<std::vector<uint8_t>*>(ctx);
      const auto* b = static_cast<const uint8_t*>(data);
      v->insert(v->end(), b, b + size);
    };
    const int ok = stbi_write_png_to_func(sink, &out, w, h, channels, pixels, w * channels);
    MOODNET_CHECK(ok != 0, "draw: PNG encoding of a ", w, "x", h, "x", channels, " image failed");
    return out;
  }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

// printf into a std::string of any length (arguments: numbers and C strings).
template <class... A>
std::string fmt(const char* f, A... a) {
  char b[256];
  const int n = std::snprintf(b, sizeof b, f, a...);
  if (n < 0) return {};
  if (size_t(n) < sizeof b) return std::string(b, size_t(n));
  std::string out(size_t(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), f, a...);
  out.resize(size_t(n));
  return out;
}

inline std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  return o;
}

inline std::string base64(const std::vector<uint8_t>& d) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  for (size_t i = 0; i < d.size(); i += 3) {
    const uint32_t n = uint32_t(d[i]) << 16 | (i + 1 < d.size() ? uint32_t(d[i + 1]) << 8 : 0) |
                       (i + 2 < d.size() ? d[i + 2] : 0);
    o += t[n >> 18 & 63];
    o += t[n >> 12 & 63];
    o += i + 1 < d.size() ? t[n >> 6 & 63] : '=';
    o += i + 2 < d.size() ? t[n & 63] : '=';
  }
  return o;
}

// Tick positions of a "nice" axis (steps of 1, 2 or 5 x 10^k) covering [lo, hi]; widens lo and
// hi to whole steps.
inline std::vector<double> nice_ticks(double& lo, double& hi, int target = 5) {
  if (!(hi > lo)) {
    const double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 0.5;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5   ? mag
                      : raw / mag < 3.5 ? 2 * mag
                      : raw / mag < 7.5 ? 5 * mag
                                        : 10 * mag;
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step * 1e-6; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}
inline std::string tick_label(double v, const std::vector<double>& ticks) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  const int dec = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
  return fmt("%.*f", dec, v);
}
// Room left of epoch 1 and right of the last epoch on an epoch axis, so the first and last
// points and the kept-epoch marker stay off the frame.
inline double epoch_pad(int epochs) { return epochs <= 1 ? 0.5 : 0.04 * (epochs - 1); }
inline std::vector<double> epoch_ticks(int epochs) {
  int step = 1;
  while (epochs / step > 10) step = step == 1 ? 2 : step == 2 ? 5 : step * 2;
  std::vector<double> t;
  for (int e = step == 1 ? 1 : step; e <= epochs; e += step) t.push_back(e);
  if (epochs > 1 && step > 1) t.insert(t.begin(), 1);
  return t;
}

using Points = std::vector<std::pair<double, double>>;
struct Series {
  std::string name, color;
  Points pts;
  bool dashed = false;
  bool dot = false;  // drawn as a dot in the legend (a marker, not a line)
};

// An SVG chart: frame, grid, tick labels, axis labels and a title; the caller adds data marks in
// data coordinates through px()/py().
struct SvgPlot {
  int w, h, l = 58, r = 14, t = 32, b = 46;
  double x0, x1, y0, y1;
  std::string s;
  double px(double x) const { return l + (x - x0) / (x1 - x0) * (w - l - r); }
  double py(double y) const { return h - b - (y - y0) / (y1 - y0) * (h - t - b); }
  SvgPlot(const std::string& title, const std::string& xlabel, const std::string& ylabel, int w_,
          int h_, const std::vector<double>& xt, const std::vector<double>& yt, double xa,
          double xb, double ya, double yb, int top = 32)
      : w(w_), h(h_), t(top), x0(xa), x1(xb), y0(ya), y1(yb) {
    s = fmt("<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" class=\"chart\">",
            w, h, w, h);
    s += "<title>" + esc(title) + "</title>";
    s += fmt("<text x=\"%d\" y=\"18\" class=\"ct\">", l) + esc(title) + "</text>";
    for (double v : yt)
      s += fmt("<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", l, w - r,
               py(v), py(v)) +
           fmt("<text x=\"%d\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>", l - 6,
               py(v) + 4, tick_label(v, yt).c_str());
    for (double v : xt)
      s += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>", px(v), px(v),
               h - b, h - b + 5) +
           fmt("<text x=\"%.1f\" y=\"%d\" class=\"tk\" text-anchor=\"middle\">%s</text>", px(v),
               h - b + 18, tick_label(v, xt).c_str());
    s += fmt("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>", l, t,
             w - l - r, h - t - b);
    s += fmt("<text x=\"%.1f\" y=\"%d\" class=\"al\" text-anchor=\"middle\">", (l + w - r) / 2.0,
             h - 8) +
         esc(xlabel) + "</text>";
    s += fmt("<text transform=\"translate(14 %.1f) rotate(-90)\" class=\"al\" "
             "text-anchor=\"middle\">",
             (t + h - b) / 2.0) +
         esc(ylabel) + "</text>";
  }
  void line(const Series& se, bool markers) {
    if (se.pts.empty()) return;
    std::string d;
    for (const auto& [x, y] : se.pts) d += fmt("%s%.1f,%.1f", d.empty() ? "" : " ", px(x), py(y));
    s += "<polyline fill=\"none\" stroke=\"" + se.color + "\" stroke-width=\"2\"" +
         (se.dashed ? " stroke-dasharray=\"5 4\"" : "") + " points=\"" + d + "\"/>";
    if (markers || se.pts.size() == 1)
      for (const auto& [x, y] : se.pts)
        s += fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"/>", px(x), py(y),
                 se.color.c_str());
  }
  // Legend entries (name, color, dashed) stacked in a corner of the plot.
  void legend(const std::vector<Series>& items, bool bottom, bool right) {
    int y = bottom ? h - b - 12 - 18 * (static_cast<int>(items.size()) - 1) : t + 16;
    for (const auto& it : items) {
      const int x = right ? w - r - 190 : l + 10;
      s += it.dot ? fmt("<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/>", x + 11, y - 4,
                        it.color.c_str())
                  : fmt("<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                        "stroke-width=\"2\"%s/>",
                        x, x + 22, y - 4, y - 4, it.color.c_str(),
                        it.dashed ? " stroke-dasharray=\"5 4\"" : "");
      s += fmt("<text x=\"%d\" y=\"%d\" class=\"lg\">", x + 28, y) + esc(it.name) + "</text>";
      y += 18;
    }
  }
  // Legend entries in one row right-aligned above the plot, beside the title (text width
  // estimated at 7 px per character).
  void legend_above(const std::vector<Series>& items) {
    int x = w - r;
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      x -= 28 + 7 * static_cast<int>(it->name.size());
      s += fmt("<line x1=\"%d\" x2=\"%d\" y1=\"14\" y2=\"14\" stroke=\"%s\" stroke-width=\"2\"%s/>",
               x, x + 22, it->color.c_str(), it->dashed ? " stroke-dasharray=\"5 4\"" : "") +
           fmt("<text x=\"%d\" y=\"18\" class=\"lg\">", x + 28) + esc(it->name) + "</text>";
      x -= 14;
    }
  }
  std::string finish() { return s + "</svg>"; }
};

inline void y_range(const std::vector<Series>& ss, double& lo, double& hi) {
  lo = INFINITY;
  hi = -INFINITY;
  for (const auto& se : ss)
    for (const auto& p : se.pts) lo = std::min(lo, p.second), hi = std::max(hi, p.second);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
}

// Sizes of the PNG renderings.
inline constexpr int curves_png_width = 960, curves_png_height = 360;
inline std::pair<int, int> confusion_png_size(int num_classes) {
  return {180 + 90 * num_classes, 120 + 90 * num_classes};
}

// Two panels, loss and accuracy, each with a train and a validation series over `epochs`;
// kept_epoch (1-based, 0: none) gets a dotted green vertical line.
inline std::vector<uint8_t> curves_png(const std::vector<Series>& loss,
                                       const std::vector<Series>& accuracy, int epochs,
                                       int kept_epoch = 0) {
  Canvas c(curves_png_width, curves_png_height);
  epochs = std::max(1, epochs);
  for (int panel = 0; panel < 2; ++panel) {
    const int ox = panel * 480, L = ox + 80, R = ox + 465, T = 44, B = 300;
    const auto& ss = panel ? accuracy : loss;
    c.text(L, 12, panel ? "ACCURACY" : "LOSS", dark, 2);
    double lo, hi;
    y_range(ss, lo, hi);
    const auto yt = nice_ticks(lo, hi);
    const double xa = 1 - epoch_pad(epochs), xb = epochs + epoch_pad(epochs);
    auto X = [&](double x) { return L + (x - xa) / (xb - xa) * (R - L); };
    auto Y = [&](double y) { return B - (y - lo) / (hi - lo) * (B - T); };
    for (double v : yt) {
      c.fill_rect(L, static_cast<int>(std::lround(Y(v))), R - L, 1, light_grey);
      c.text_right(L - 8, static_cast<int>(Y(v)) - 7, tick_label(v, yt), dark, 2);
    }
    for (double v : epoch_ticks(epochs)) {
      c.fill_rect(static_cast<int>(std::lround(X(v))), B, 1, 6, dark);
      c.text_centered(static_cast<int>(X(v)), B + 10, fmt("%.0f", v), dark, 2);
    }
    c.text_centered((L + R) / 2, B + 34, "EPOCH", dark, 2);
    c.rect_outline(L, T, R - L + 1, B - T + 1, grey);
    if (ss.empty()) c.text_centered((L + R) / 2, (T + B) / 2 - 7, "NO TRAINING HISTORY", grey, 2);
    if (kept_epoch >= 1 && kept_epoch <= epochs && epochs > 1)
      c.line(X(kept_epoch), T + 1, X(kept_epoch), B - 1, Color{44, 160, 44}, 1, 3);
    for (size_t k = 0; k < ss.size(); ++k) {
      const Color col = k == 0 ? blue : orange;
      const auto& pts = ss[k].pts;
      for (size_t i = 0; i < pts.size(); ++i) {
        if (i > 0)
          c.line(X(pts[i - 1].first), Y(pts[i - 1].second), X(pts[i].first), Y(pts[i].second), col,
                 2, ss[k].dashed ? 6 : 0);
        c.fill_rect(static_cast<int>(X(pts[i].first)) - 2, static_cast<int>(Y(pts[i].second)) - 2,
                    5, 5, col);
      }
      const int lx = R - (k == 0 ? 200 : 72);  // legend in the title row: -- TRAIN  -- VAL
      c.line(lx, 19, lx + 26, 19, col, 2, ss[k].dashed ? 6 : 0);
      c.text(lx + 32, 12, k == 0 ? "TRAIN" : "VAL", dark, 2);
    }
  }
  return c.png();
}

// A confusion matrix [true][predicted] with class names, cells shaded by the fraction of the row.
inline std::vector<uint8_t> confusion_png(const std::vector<std::string>& class_names,
                                          const std::vector<std::vector<int64_t>>& confusion) {
  const int k = static_cast<int>(class_names.size()), cell = 90, L = 160, T = 70;
  const auto [w, h] = confusion_png_size(k);
  Canvas c(w, h);
  c.text(10, 12, "CONFUSION MATRIX", dark, 2);
  for (int t = 0; t < k; ++t) {
    int64_t row = 0;
    for (int p = 0; p < k; ++p) row += confusion[size_t(t)][size_t(p)];
    c.text_right(L - 10, T + t * cell + cell / 2 - 7, fit_text(class_names[size_t(t)], 12), dark,
                 2);
    c.text_centered(L + t * cell + cell / 2, T - 22, fit_text(class_names[size_t(t)], 7), dark, 2);
    for (int p = 0; p < k; ++p) {
      const int64_t n = confusion[size_t(t)][size_t(p)];
      const double f = row ? double(n) / double(row) : 0;
      const Color bg{static_cast<uint8_t>(255 - f * (255 - 8)),
                     static_cast<uint8_t>(255 - f * (255 - 81)),
                     static_cast<uint8_t>(255 - f * (255 - 156))};
      c.fill_rect(L + p * cell, T + t * cell, cell, cell, bg);
      c.rect_outline(L + p * cell, T + t * cell, cell + 1, cell + 1, grey);
      const std::string s = std::to_string(n);
      const int sc = s.size() <= 4 ? 3 : s.size() <= 7 ? 2 : 1;
      c.text_centered(L + p * cell + cell / 2, T + t * cell + cell / 2 - text_height(sc) / 2, s,
                      f > 0.5 ? white : dark, sc);
    }
  }
  c.text(10, T + k * cell + 10, "ROWS: TRUE", dark, 2);
  c.text(10, T + k * cell + 28, "COLUMNS: PREDICTED", dark, 2);
  return c.png();
}

}  // namespace moodnet::draw
