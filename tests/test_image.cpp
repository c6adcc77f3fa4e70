// Image decoding in every format and colour mode, and the resize modes (TF nearest / area,
// Keras crop_to_aspect_ratio / pad_to_aspect_ratio), on hand-computed small images.
#include <stb/stb_image_write.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <moodnet/data/folder.hpp>
#include <moodnet/data/image.hpp>
#include <moodnet/data/image_dataset.hpp>
#include <string>
#include <vector>

#include "image_files.hpp"
#include "temp_dir.hpp"
#include "thread_count.hpp"

using namespace moodnet;
using namespace moodnet::test;
namespace fs = std::filesystem;

namespace {

using Px = std::vector<uint8_t>;

// (h, w) one-channel image with pixel (y, x) = f(y, x).
template <class F>
Image gray_image(int64_t h, int64_t w, F f) {
  Px px;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) px.push_back(static_cast<uint8_t>(f(y, x)));
  return make_image(h, w, 1, std::move(px));
}

// The three colour modes of one file against its RGBA truth: rgba exactly, rgb = the truth
// without alpha, grayscale = the ITU-R 601 luma of that RGB (Pillow's convert("L"); exact for
// gray sources, whose luma is the gray value itself).
void check_modes(const fs::path& f, int64_t h, int64_t w, const Px& rgba) {
  INFO("file " << f.filename().string());
  REQUIRE(rgba.size() == static_cast<size_t>(h * w * 4));
  Px rgb, gray;
  for (size_t i = 0; i < rgba.size(); i += 4) {
    rgb.insert(rgb.end(), {rgba[i], rgba[i + 1], rgba[i + 2]});
    gray.push_back(detail::luma601(rgba[i], rgba[i + 1], rgba[i + 2]));
  }
  const Image a = decode_image(f, ColorMode::rgba), c = decode_image(f, ColorMode::rgb),
              g = decode_image(f, ColorMode::grayscale);
  REQUIRE((a.height == h && a.width == w && a.channels == 4));
  REQUIRE((c.height == h && c.width == w && c.channels == 3));
  REQUIRE((g.height == h && g.width == w && g.channels == 1));
  CHECK(a.pixels == rgba);
  CHECK(c.pixels == rgb);
  CHECK(g.pixels == gray);
}

// Opaque RGBA truth from RGB or gray pixels.
Px opaque(const Px& px, int comp) {
  Px out;
  for (size_t i = 0; i < px.size(); i += static_cast<size_t>(comp)) {
    const uint8_t r = px[i], g = comp == 1 ? px[i] : px[i + 1], b = comp == 1 ? px[i] : px[i + 2];
    out.insert(out.end(), {r, g, b, 255});
  }
  return out;
}

bool close_to(const Image& img, int64_t y, int64_t x, const Px& want, int tol) {
  for (size_t k = 0; k < want.size(); ++k)
    if (std::abs(int(img.at(y, x, int64_t(k))) - int(want[k])) > tol) return false;
  return true;
}

}  // namespace

TEST_CASE("data: resize_nearest matches tf.image.resize nearest (half-pixel centres)", "[data]") {
  // 4x4 -> 2x2: source index floor((i + 0.5) * 2) = 1, 3 on both axes.
  const Image px16 = gray_image(4, 4, [](int64_t y, int64_t x) { return 10 * (4 * y + x); });
  CHECK(resize_nearest(px16, 2, 2).pixels == Px{50, 70, 130, 150});
  // Upscaling 2x2 -> 4x4 replicates (indices 0, 0, 1, 1).
  const Image up = resize_nearest(make_image(2, 2, 1, {0, 100, 200, 40}), 4, 4);
  CHECK((up.height == 4 && up.width == 4));
  CHECK(up.pixels == Px{0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 40, 40, 200, 200, 40, 40});
  // Odd sizes: 5 -> 3 picks 0, 2, 4 (0.83, 2.5, 4.17); 2 -> 3 picks 0, 1, 1 (0.33, 1.0, 1.67),
  // every channel of a pixel together.
  CHECK(resize_nearest(make_image(1, 5, 1, {0, 10, 20, 30, 40}), 1, 3).pixels == Px{0, 20, 40});
  CHECK(resize_nearest(make_image(1, 2, 2, {0, 1, 100, 101}), 1, 3).pixels ==
        Px{0, 1, 100, 101, 100, 101});
  // 3x3 -> 1x1 is the centre pixel; 1x1 -> 2x3 replicates; same size is the identity.
  const Image nine = gray_image(3, 3, [](int64_t y, int64_t x) { return 1 + 3 * y + x; });
  CHECK(resize_nearest(nine, 1, 1).pixels == Px{5});
  CHECK(resize_nearest(make_image(1, 1, 3, {7, 8, 9}), 2, 3).pixels == uniform(3, 2, {7, 8, 9}));
  CHECK(resize_nearest(nine, 3, 3).pixels == nine.pixels);
  REQUIRE_THROWS_WITH(resize_nearest(nine, 0, 3),
                      Catch::Contains("resize_nearest") && Catch::Contains("positive"));
  REQUIRE_THROWS_AS(resize_nearest(make_image(2, 2, 1, {1, 2, 3}), 1, 1), Error);
}

TEST_CASE("data: resize_area is TF's box average over the exact source footprint", "[data]") {
  // 4x4 -> 2x2: the mean of each 2x2 block, exactly.
  const Image px16 = gray_image(4, 4, [](int64_t y, int64_t x) { return 10 * (4 * y + x); });
  CHECK(resize_area(px16, 2, 2).pixels == Px{25, 45, 105, 125});
  // 6x6 -> 2x2 of 5y^2 + x^2: 3x3 block means 10, 25, 85, 100 (bilinear would give the block
  // centres 6, 21, 81, 96).
  const Image sq = gray_image(6, 6, [](int64_t y, int64_t x) { return 5 * y * y + x * x; });
  CHECK(resize_area(sq, 2, 2).pixels == Px{10, 25, 85, 100});
  CHECK(resize_bilinear(sq, 2, 2).pixels == Px{6, 21, 81, 96});
  // Rounding of the float mean: 0.5 -> 1 (half away from zero), 0.25 -> 0.
  CHECK(resize_area(make_image(2, 2, 1, {0, 0, 0, 2}), 1, 1).pixels == Px{1});
  CHECK(resize_area(make_image(2, 2, 1, {0, 0, 0, 1}), 1, 1).pixels == Px{0});
  // Non-integer ratio 3 -> 2: footprints [0, 1.5) and [1.5, 3), so (p0 + p1/2) / 1.5 and
  // (p1/2 + p2) / 1.5; two channels independent.
  CHECK(resize_area(make_image(1, 3, 2, {0, 200, 90, 110, 180, 20}), 1, 2).pixels ==
        Px{30, 170, 150, 50});
  // 7 -> 2: (0 + 10 + 20 + 30/2) / 3.5 = 12.86 and (30/2 + 40 + 50 + 60) / 3.5 = 47.14.
  CHECK(resize_area(make_image(1, 7, 1, {0, 10, 20, 30, 40, 50, 60}), 1, 2).pixels == Px{13, 47});
  // Upscaling: 2 -> 3 gives p0, the mean, p1; 2 -> 4 replicates; a 1-pixel source fills.
  CHECK(resize_area(make_image(1, 2, 1, {0, 100}), 1, 3).pixels == Px{0, 50, 100});
  CHECK(resize_area(make_image(2, 2, 1, {0, 100, 200, 40}), 4, 4).pixels ==
        resize_nearest(make_image(2, 2, 1, {0, 100, 200, 40}), 4, 4).pixels);
  CHECK(resize_area(make_image(1, 1, 3, {7, 8, 9}), 3, 2).pixels == uniform(2, 3, {7, 8, 9}));
  // To one pixel: the mean of everything (45 / 9 = 5); same size is the identity.
  const Image nine = gray_image(3, 3, [](int64_t y, int64_t x) { return 1 + 3 * y + x; });
  CHECK(resize_area(nine, 1, 1).pixels == Px{5});
  CHECK(resize_area(sq, 6, 6).pixels == sq.pixels);
  REQUIRE_THROWS_WITH(resize_area(nine, 3, -1),
                      Catch::Contains("resize_area") && Catch::Contains("positive"));
}

TEST_CASE("data: crop_to_aspect_ratio and pad_to_aspect_ratio follow Keras' geometry", "[data]") {
  // 4 rows x 8 columns, pixel = 10y + x. A square target keeps the centre 4x4 (columns 2..5).
  const Image wide = gray_image(4, 8, [](int64_t y, int64_t x) { return 10 * y + x; });
  const Image c = crop_to_aspect_ratio(wide, 2, 2);
  REQUIRE((c.height == 4 && c.width == 4 && c.channels == 1));
  CHECK(c.pixels == Px{2, 3, 4, 5, 12, 13, 14, 15, 22, 23, 24, 25, 32, 33, 34, 35});
  // Then resized: block means of the window, 7.5 8 9.5 -> 10, 27.5 -> 28, 29.5 -> 30.
  ResizeOptions crop_area{Interpolation::area, true, false};
  CHECK(resize_image(wide, 2, 2, crop_area).pixels == Px{8, 10, 28, 30});
  // Odd sizes: 5x4 to a 1:2 target keeps int(4 * 1 / 2) = 2 rows from row int(3 / 2) = 1.
  const Image tall = gray_image(5, 4, [](int64_t y, int64_t x) { return 10 * y + x; });
  const Image t2 = crop_to_aspect_ratio(tall, 1, 2);
  REQUIRE((t2.height == 2 && t2.width == 4));
  CHECK(t2.pixels == Px{10, 11, 12, 13, 20, 21, 22, 23});
  // A 612x408 photo to 150x150 keeps columns 102..509.
  const Image photo = gray_image(408, 612, [](int64_t, int64_t x) { return x % 256; });
  const Image p = crop_to_aspect_ratio(photo, 150, 150);
  CHECK((p.height == 408 && p.width == 408 && p.at(0, 0, 0) == 102));
  // Extreme ratios never crop to nothing: 1x100 to 100x1 keeps one pixel, column 49.
  const Image line = gray_image(1, 100, [](int64_t, int64_t x) { return x; });
  CHECK(crop_to_aspect_ratio(line, 100, 1).pixels == Px{49});
  // The target's aspect already: unchanged.
  CHECK(crop_to_aspect_ratio(wide, 1, 2).pixels == wide.pixels);

  // Pad: 2x4 to a square gets one zero row above and one below.
  const Image flat = gray_image(2, 4, [](int64_t y, int64_t x) { return 1 + 4 * y + x; });
  const Image padded = pad_to_aspect_ratio(flat, 4, 4);
  REQUIRE((padded.height == 4 && padded.width == 4));
  CHECK(padded.pixels == Px{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0});
  // With nearest to that very size the padded image comes back as is.
  CHECK(resize_image(flat, 4, 4, ResizeOptions{Interpolation::nearest, false, true}).pixels ==
        padded.pixels);
  // Odd difference: 2x5 to a square needs 3 rows; int(3 / 2) = 1 each side gives 4x5, as Keras.
  const Image p25 = pad_to_aspect_ratio(gray_image(2, 5, [](int64_t, int64_t) { return 9; }), 5, 5);
  CHECK((p25.height == 4 && p25.width == 5));
  // Columns: 3x1 to 1x1 gets one zero column each side; 1x2 to a square (1 row short) is unchanged.
  const Image col = pad_to_aspect_ratio(make_image(3, 1, 2, {1, 2, 3, 4, 5, 6}), 1, 1);
  REQUIRE((col.height == 3 && col.width == 3 && col.channels == 2));
  CHECK(col.pixels == Px{0, 0, 1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0, 5, 6, 0, 0});
  CHECK(pad_to_aspect_ratio(make_image(1, 2, 1, {5, 6}), 2, 2).pixels == Px{5, 6});

  // Letterboxed, then resized: 1x2 to 6x4 pads to 3x2 (a zero row above and below), and
  // bilinear blends the zero rows in (rows at -0.25, 0.25, ..., 2.25 of the padded image).
  const Image lb = resize_image(make_image(1, 2, 1, {200, 200}), 6, 4,
                                ResizeOptions{Interpolation::bilinear, false, true});
  REQUIRE((lb.height == 6 && lb.width == 4));
  Px want;
  for (int v : {0, 50, 150, 150, 50, 0}) want.insert(want.end(), 4, uint8_t(v));
  CHECK(lb.pixels == want);
  // Nearest from the padded 3x4 to 4x4 picks rows 0, 1, 1, 2.
  const Image lb2 = resize_image(make_image(1, 4, 1, {200, 200, 200, 200}), 4, 4,
                                 ResizeOptions{Interpolation::nearest, false, true});
  CHECK(lb2.pixels == Px{0, 0, 0, 0, 200, 200, 200, 200, 200, 200, 200, 200, 0, 0, 0, 0});

  // resize_image letterboxes without building the padded image, with the same pixels as
  // resizing pad_to_aspect_ratio's result, in every mode and for either padded axis.
  const Image noisy = make_image(5, 9, 3, noise(9, 5, 3));
  for (Interpolation m : {Interpolation::bilinear, Interpolation::nearest, Interpolation::area})
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{7, 3}, {4, 4}, {2, 11}, {9, 5}}) {
      INFO(to_string(m) << " " << h << "x" << w);
      CHECK(resize_image(noisy, h, w, ResizeOptions{m, false, true}).pixels ==
            resize_image(pad_to_aspect_ratio(noisy, h, w), h, w, m).pixels);
    }
  // A 48x10752 strip (found by the fuzzer) padded to 37:23 would be 17296x10752 = 186M pixels:
  // pad_to_aspect_ratio refuses, resize_image just reads the 48 real rows. Output row 18 covers
  // rows [8414.3, 8881.7) of the padded image, all 48 real ones: 48 * 200 / 467.46 = 20.5.
  const Image strip = make_image(48, 10752, 1, Px(48 * 10752, 200));
  REQUIRE_THROWS_WITH(pad_to_aspect_ratio(strip, 37, 23),
                      Catch::Contains("17296x10752") && Catch::Contains("over the limit"));
  const Image boxed = resize_image(strip, 37, 23, ResizeOptions{Interpolation::area, false, true});
  REQUIRE((boxed.height == 37 && boxed.width == 23));
  CHECK(boxed.at(0, 0, 0) == 0);
  CHECK(boxed.at(18, 11, 0) == 21);
  CHECK(boxed.at(36, 22, 0) == 0);
}

TEST_CASE("data: resize_image dispatch, names and option errors", "[data]") {
  const Image sq = gray_image(6, 6, [](int64_t y, int64_t x) { return 5 * y * y + x * x; });
  CHECK(resize_image(sq, 2, 2, Interpolation::bilinear).pixels == resize_bilinear(sq, 2, 2).pixels);
  CHECK(resize_image(sq, 2, 2, Interpolation::nearest).pixels == resize_nearest(sq, 2, 2).pixels);
  CHECK(resize_image(sq, 2, 2, Interpolation::area).pixels == resize_area(sq, 2, 2).pixels);
  CHECK(resize_image(sq, 3, 4, ResizeOptions{}).pixels == resize_bilinear(sq, 3, 4).pixels);
  for (Interpolation m : {Interpolation::bilinear, Interpolation::nearest, Interpolation::area})
    CHECK(parse_interpolation(to_string(m)) == m);
  REQUIRE_THROWS_WITH(parse_interpolation("bicubic"),
                      Catch::Contains("bicubic") && Catch::Contains("bilinear, nearest or area"));
  for (ColorMode m : {ColorMode::rgb, ColorMode::grayscale, ColorMode::rgba})
    CHECK(parse_color_mode(to_string(m)) == m);
  CHECK(num_channels(ColorMode::rgba) == 4);
  REQUIRE_THROWS_WITH(parse_color_mode("cmyk"), Catch::Contains("cmyk"));
  REQUIRE_THROWS_WITH(resize_image(sq, 2, 2, ResizeOptions{Interpolation::area, true, true}),
                      Catch::Contains("cannot both be set"));
  REQUIRE_THROWS_WITH(crop_to_aspect_ratio(sq, 0, 2), Catch::Contains("positive"));
  REQUIRE_THROWS_WITH(pad_to_aspect_ratio(make_image(2, 2, 1, {1}), 2, 2),
                      Catch::Contains("invalid source image"));
}

TEST_CASE("data: every format decodes as rgb, grayscale and rgba", "[data]") {
  TempDir t;
  const Px rgb{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255, 0, 0, 0};  // 3x2
  const Px gray{0, 17, 128, 255};                                                     // 2x2

  // PNG: gray, gray + alpha, RGB, RGBA (stb_image_write).
  write_png(t.path / "gray.png", 2, 2, 1, gray);
  check_modes(t.path / "gray.png", 2, 2, opaque(gray, 1));
  write_png(t.path / "ga.png", 2, 1, 2, {40, 0, 200, 128});
  check_modes(t.path / "ga.png", 1, 2, {40, 40, 40, 0, 200, 200, 200, 128});
  write_png(t.path / "rgb.png", 3, 2, 3, rgb);
  check_modes(t.path / "rgb.png", 2, 3, opaque(rgb, 3));
  write_png(t.path / "rgba.png", 2, 1, 4, {255, 0, 0, 0, 1, 2, 3, 255});
  check_modes(t.path / "rgba.png", 1, 2, {255, 0, 0, 0, 1, 2, 3, 255});

  // PNG palette (built by hand): 8-bit indices with a tRNS alpha for entry 0, and 2-bit
  // indices {3, 1, 2} packed in one byte.
  write_bytes(t.path / "pal.png",
              make_png(3, 1, 8, 3, {{1, 0, 1}}, {0, 0, 255, 250, 100, 0}, {128}));
  check_modes(t.path / "pal.png", 1, 3, {250, 100, 0, 255, 0, 0, 255, 128, 250, 100, 0, 255});
  write_bytes(t.path / "pal2.png",
              make_png(3, 1, 2, 3, {{0xD8}}, {1, 2, 3, 40, 50, 60, 70, 80, 90, 200, 210, 220}));
  check_modes(t.path / "pal2.png", 1, 3, {200, 210, 220, 255, 40, 50, 60, 255, 70, 80, 90, 255});

  // PNG 16-bit (by hand): gray, RGB, RGBA; stb keeps the high byte.
  write_bytes(t.path / "g16.png", make_png(2, 1, 16, 0, {{0xAB, 0xCD, 0x12, 0x34}}));
  check_modes(t.path / "g16.png", 1, 2, {0xAB, 0xAB, 0xAB, 255, 0x12, 0x12, 0x12, 255});
  write_bytes(t.path / "rgb16.png",
              make_png(2, 1, 16, 2,
                       {{0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x00}}));
  check_modes(t.path / "rgb16.png", 1, 2, {0x12, 0x56, 0x9A, 255, 0xFF, 0x00, 0x80, 255});
  write_bytes(t.path / "rgba16.png",
              make_png(1, 1, 16, 6, {{0x11, 0x01, 0x22, 0x02, 0x33, 0x03, 0x44, 0x04}}));
  check_modes(t.path / "rgba16.png", 1, 1, {0x11, 0x22, 0x33, 0x44});

  // BMP: 24-bit from RGB and from gray, 32-bit with alpha (a V4 header).
  REQUIRE(stbi_write_bmp(str(t.path / "rgb.bmp").c_str(), 3, 2, 3, rgb.data()) != 0);
  check_modes(t.path / "rgb.bmp", 2, 3, opaque(rgb, 3));
  REQUIRE(stbi_write_bmp(str(t.path / "gray.bmp").c_str(), 2, 2, 1, gray.data()) != 0);
  check_modes(t.path / "gray.bmp", 2, 2, opaque(gray, 1));
  const Px rgba2{9, 8, 7, 6, 250, 128, 1, 255};
  REQUIRE(stbi_write_bmp(str(t.path / "rgba.bmp").c_str(), 2, 1, 4, rgba2.data()) != 0);
  check_modes(t.path / "rgba.bmp", 1, 2, rgba2);

  // TGA (run-length encoded, stb's default): RGB, gray, RGBA.
  REQUIRE(stbi_write_tga(str(t.path / "rgb.tga").c_str(), 3, 2, 3, rgb.data()) != 0);
  check_modes(t.path / "rgb.tga", 2, 3, opaque(rgb, 3));
  REQUIRE(stbi_write_tga(str(t.path / "gray.tga").c_str(), 2, 2, 1, gray.data()) != 0);
  check_modes(t.path / "gray.tga", 2, 2, opaque(gray, 1));
  REQUIRE(stbi_write_tga(str(t.path / "rgba.tga").c_str(), 2, 1, 4, rgba2.data()) != 0);
  check_modes(t.path / "rgba.tga", 1, 2, rgba2);

  // GIF with two frames, red then blue (a 2-colour global palette, LZW by hand): the first.
  write_bytes(t.path / "two.gif",
              {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00,
               0x80, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff,        // palette
               0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,  // frame 1
               0x02, 0x02, 0x44, 0x01, 0x00,                                // index 0
               0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,  // frame 2
               0x02, 0x02, 0x4c, 0x01, 0x00,                                // index 1
               0x3b});
  check_modes(t.path / "two.gif", 1, 1, {255, 0, 0, 255});

  // JPEG baseline (lossy): colour and gray sources, near the source values; the three modes
  // agree exactly with the decoded RGBA (alpha 255).
  write_jpg(t.path / "c.jpg", 16, 8, 3, uniform(16, 8, {200, 100, 50}));
  const Image cj = decode_image(t.path / "c.jpg", ColorMode::rgba);
  REQUIRE((cj.height == 8 && cj.width == 16 && cj.channels == 4));
  CHECK(close_to(cj, 4, 7, {200, 100, 50, 255}, 3));
  check_modes(t.path / "c.jpg", 8, 16, cj.pixels);
  write_jpg(t.path / "g.jpg", 8, 8, 1, uniform(8, 8, {77}));
  const Image gj = decode_image(t.path / "g.jpg", ColorMode::rgba);
  REQUIRE(gj.channels == 4);
  CHECK(close_to(gj, 3, 3, {77, 77, 77, 255}, 2));
  check_modes(t.path / "g.jpg", 8, 8, gj.pixels);
}

TEST_CASE("data: progressive JPEGs decode like their baseline twins", "[data]") {
  TempDir t;
  write_bytes(t.path / "prog.jpg", k_prog_rgb_jpg);
  write_bytes(t.path / "base.jpg", k_base_rgb_jpg);
  write_bytes(t.path / "progg.jpg", k_prog_gray_jpg);
  write_bytes(t.path / "baseg.jpg", k_base_gray_jpg);
  for (ColorMode m : {ColorMode::rgb, ColorMode::grayscale, ColorMode::rgba}) {
    INFO("mode " << to_string(m));
    CHECK(decode_image(t.path / "prog.jpg", m).pixels ==
          decode_image(t.path / "base.jpg", m).pixels);
    CHECK(decode_image(t.path / "progg.jpg", m).pixels ==
          decode_image(t.path / "baseg.jpg", m).pixels);
  }
  const Image p = decode_image(t.path / "prog.jpg", ColorMode::rgba);
  REQUIRE((p.height == 16 && p.width == 16 && p.channels == 4));
  CHECK(close_to(p, 3, 3, {220, 40, 30, 255}, 8));
  CHECK(close_to(p, 3, 12, {30, 200, 60, 255}, 8));
  CHECK(close_to(p, 12, 3, {40, 60, 210, 255}, 8));
  CHECK(close_to(p, 12, 12, {128, 128, 128, 255}, 8));
  check_modes(t.path / "prog.jpg", 16, 16, p.pixels);
  // One component: grayscale keeps it, rgb/rgba replicate it.
  const Image g = decode_image(t.path / "progg.jpg", ColorMode::rgba);
  REQUIRE(g.channels == 4);
  CHECK(close_to(g, 3, 3, {detail::luma601(220, 40, 30)}, 8));
  CHECK(close_to(g, 12, 12, {128, 128, 128, 255}, 8));
  check_modes(t.path / "progg.jpg", 16, 16, g.pixels);
}

TEST_CASE("data: real progressive JPEG, palette and RGBA PNGs in every colour mode", "[data]") {
  const fs::path shared = MOODNET_SHARED_DATA_DIR;
  if (!fs::is_directory(shared)) {
    WARN("shared data directory " << shared.string() << " not found; real-file checks skipped");
    return;
  }
  // Progressive JPEG (612x408), palette PNG (100x100, no tRNS), RGBA PNG (940x492, 1431
  // pixels not opaque).
  const fs::path prog = shared / "getty-happy-sad/all/happy/gettyimages-1090837964-612x612.jpg";
  const fs::path pal = shared / "google-happy-sad/all/happy/image32.png";
  const fs::path rgba = shared / "google-happy-sad/all/sad/DD-blogpost-SAD-940x492.png";
  for (const fs::path& f : {prog, pal, rgba}) {
    const Image a = decode_image(f, ColorMode::rgba);
    check_modes(f, a.height, a.width, a.pixels);
  }
  const Image pa = decode_image(prog, ColorMode::rgba);
  bool opaque_all = true;
  for (size_t i = 3; i < pa.pixels.size(); i += 4) opaque_all &= pa.pixels[i] == 255;
  CHECK(opaque_all);
  const Image ra = decode_image(rgba, ColorMode::rgba);
  int64_t see_through = 0;
  for (size_t i = 3; i < ra.pixels.size(); i += 4) see_through += ra.pixels[i] < 255;
  CHECK(see_through == 1431);  // rgba mode keeps the alpha
}

TEST_CASE("data: ImageDataset interpolation, crop/pad to aspect ratio and rgba", "[data]") {
  TempDir t;
  const fs::path r = t.path / "ds";
  // happy: 4x8 gray ramp (as RGB); sad: a 6x3 RGBA image.
  Px ramp;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) ramp.insert(ramp.end(), 3, static_cast<uint8_t>(10 * y + x));
  write_png(r / "happy" / "a.png", 8, 4, 3, ramp);
  Px rgba;
  for (int i = 0; i < 18; ++i)
    rgba.insert(rgba.end(), {uint8_t(10 * i), uint8_t(200 - i), 7, uint8_t(i % 2 ? 255 : 100)});
  write_png(r / "sad" / "b.png", 3, 6, 4, rgba);
  const ImageFolder f = scan_image_folder(r);
  REQUIRE(f.size() == 2);

  // The default: bilinear stretch, bit-identical to resize_bilinear.
  ImageDatasetOptions o;
  o.height = 2;
  o.width = 2;
  ImageDataset plain(f, {0, 1}, o);
  for (int64_t i = 0; i < 2; ++i) {
    const Image src = decode_image(f.files[size_t(i)], ColorMode::rgb);
    const auto px = plain.pixels(i);
    CHECK(Px(px.begin(), px.end()) == resize_bilinear(src, 2, 2).pixels);
  }

  // Every mode x aspect handling: the cache holds exactly resize_image's pixels.
  for (Interpolation m : {Interpolation::bilinear, Interpolation::nearest, Interpolation::area})
    for (int aspect = 0; aspect < 3; ++aspect) {
      o.interpolation = m;
      o.crop_to_aspect_ratio = aspect == 1;
      o.pad_to_aspect_ratio = aspect == 2;
      o.color_mode = aspect == 2 ? ColorMode::rgba : ColorMode::rgb;
      INFO(to_string(m) << " aspect " << aspect);
      ImageDataset ds(f, {0, 1}, o);
      const int64_t ch = num_channels(o.color_mode);
      CHECK(ds.sample_shape() == Shape{2, 2, ch});
      for (int64_t i = 0; i < 2; ++i) {
        const Image src = decode_image(f.files[size_t(i)], o.color_mode);
        const auto px = ds.pixels(i);
        CHECK(Px(px.begin(), px.end()) == resize_image(src, 2, 2, ds.resize_options()).pixels);
      }
    }
  // Crop + area on the ramp: block means of the centre 4x4 (see the geometry test).
  o.color_mode = ColorMode::grayscale;
  o.interpolation = Interpolation::area;
  o.crop_to_aspect_ratio = true;
  o.pad_to_aspect_ratio = false;
  ImageDataset cropped(f, {0}, o);
  const auto cp = cropped.pixels(0);
  CHECK(Px(cp.begin(), cp.end()) == Px{8, 10, 28, 30});
  // rgba batches keep the alpha (scaled like the colours).
  o.color_mode = ColorMode::rgba;
  o.crop_to_aspect_ratio = false;
  o.interpolation = Interpolation::nearest;
  o.height = 6;
  o.width = 3;
  o.scale = 1.0f;
  ImageDataset full(f, {1}, o);
  Tensor<Cpu> x, y;
  full.load_batch(std::vector<int64_t>{0}, 0, x, y);
  REQUIRE(x.shape() == Shape{1, 6, 3, 4});
  for (int64_t i = 0; i < x.size(); ++i) REQUIRE(x[i] == float(rgba[size_t(i)]));

  o.crop_to_aspect_ratio = o.pad_to_aspect_ratio = true;
  REQUIRE_THROWS_WITH(ImageDataset(f, {0}, o), Catch::Contains("cannot both be set"));
}

TEST_CASE("data: ImageDataset batches are the same for 1 and 2 threads on the threaded paths",
          "[data]") {
  const test::ThreadCountGuard threads_guard;
  // load_batch runs threads for augmented batches of >= 2^14 values and plain ones of >= 2^22:
  // both sizes here, with the serial run as the reference.
  const fs::path sample = fs::path(MOODNET_SOURCE_DIR) / "data" / "sample" / "train";
  const ImageFolder folder = scan_image_folder(sample);
  std::vector<int64_t> some(90);
  for (size_t i = 0; i < some.size(); ++i) some[i] = static_cast<int64_t>(3 * i);
  ImageDatasetOptions o;
  o.height = o.width = 128;  // 90 x 128 x 128 x 3 = 4.4M values
  ImageDataset plain(folder, some, o);
  o.height = o.width = 24;  // 90 x 24 x 24 x 3 = 156k values
  o.augmentation = augmentation_preset("seed000");
  o.augment_seed = 5;
  ImageDataset aug(folder, some, o);
  std::vector<int64_t> idx(90);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>((7 * i) % 90);
  for (ImageDataset* ds : {&plain, &aug}) {
    Tensor<Cpu> x1, y1, x2, y2;
    set_num_threads(1);
    ds->load_batch(idx, 3, x1, y1);
    set_num_threads(2);
    ds->load_batch(idx, 3, x2, y2);
    REQUIRE(x1.size() == x2.size());
    CHECK(std::memcmp(x1.data(), x2.data(), size_t(x1.size()) * sizeof(float)) == 0);
    CHECK(std::memcmp(y1.data(), y2.data(), size_t(y1.size()) * sizeof(float)) == 0);
  }
  // The augmented batch is augment_pixels of each cached sample, keyed by its dataset index.
  Tensor<Cpu> x, y;
  aug.load_batch(idx, 3, x, y);
  const int64_t per = 24 * 24 * 3;
  std::vector<float> want(static_cast<size_t>(per));
  bool same = true;
  for (size_t i = 0; i < idx.size(); ++i) {
    augment_pixels(aug.pixels(idx[i]).data(), 24, 24, 3, o.augmentation, 5, 3,
                   static_cast<uint64_t>(idx[i]), want.data(), 1.0f / 255.0f);
    same &= std::memcmp(want.data(), x.data() + int64_t(i) * per, want.size() * sizeof(float)) == 0;
  }
  CHECK(same);
}
