// Augmentation (Keras ImageDataGenerator semantics), its text form, and augment_folder.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <moodnet/data/augment.hpp>
#include <moodnet/data/augment_folder.hpp>
#include <string>
#include <vector>

#include "temp_dir.hpp"

using namespace moodnet;
namespace fs = std::filesystem;

namespace {

using moodnet::test::TempDir;

// An h x w x c image with pseudo-random pixels.
Image noise_image(int64_t h, int64_t w, int64_t c, uint64_t seed = 1) {
  Image img{h, w, c, {}};
  img.pixels.resize(static_cast<size_t>(h * w * c));
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = static_cast<uint8_t>(random_bits(seed, 7, i) & 0xff);
  return img;
}

// A one-channel image with pixel (r, c) = 10 * r + c + 1.
Image ramp_image(int64_t h, int64_t w) {
  Image img{h, w, 1, std::vector<uint8_t>(static_cast<size_t>(h * w))};
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) img.pixels[static_cast<size_t>(r * w + c)] = 10 * r + c + 1;
  return img;
}

Image apply(const Image& src, const AugmentParams& p, FillMode fill = FillMode::nearest,
            double cval = 0) {
  Image out{src.height, src.width, src.channels, std::vector<uint8_t>(src.pixels.size())};
  apply_augment_params(src.pixels.data(), src.height, src.width, src.channels, p, fill, cval,
                       out.pixels.data());
  return out;
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> v;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) v.push_back(e.path().lexically_relative(dir));
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("augment: nothing enabled is the identity", "[augment]") {
  const Image src = noise_image(7, 5, 3);
  Augmentation a;
  CHECK_FALSE(a.enabled());
  a.fill_mode = FillMode::constant;  // fill and cval alone change nothing
  a.cval = 9;
  CHECK_FALSE(a.enabled());
  CHECK(augment_image(src, a, 1, 2, 3).pixels == src.pixels);
  // Identity parameters through the full warp are exact too.
  CHECK(apply(src, AugmentParams{}, FillMode::constant, 9).pixels == src.pixels);
  std::vector<float> f(src.pixels.size());
  augment_pixels(src.pixels.data(), 7, 5, 3, a, 1, 2, 3, f.data(), 0.5f);
  for (size_t i = 0; i < f.size(); ++i) REQUIRE(f[i] == 0.5f * src.pixels[i]);
}

TEST_CASE("augment: flips are exact pixel permutations", "[augment]") {
  const Image src = noise_image(6, 9, 3);
  AugmentParams h, v;
  h.flip_horizontal = true;
  v.flip_vertical = true;
  const Image hf = apply(src, h), vf = apply(src, v);
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 9; ++c)
      for (int64_t k = 0; k < 3; ++k) {
        REQUIRE(hf.at(r, c, k) == src.at(r, 8 - c, k));
        REQUIRE(vf.at(r, c, k) == src.at(5 - r, c, k));
      }
  // horizontal_flip flips about half of the images, chosen by the key.
  Augmentation a;
  a.horizontal_flip = true;
  int flipped = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    const Image out = augment_image(src, a, 5, 0, i);
    REQUIRE((out.pixels == hf.pixels || out.pixels == src.pixels));
    flipped += out.pixels == hf.pixels;
  }
  CHECK(flipped > 8);
  CHECK(flipped < 32);
}

TEST_CASE("augment: 90 and 180 degree rotations of a square image", "[augment]") {
  const int64_t n = 9;
  const Image src = noise_image(n, n, 2);
  AugmentParams p;
  p.theta = 90;
  const Image r90 = apply(src, p);
  // Pull-back: out(r, c) = src(n-1-c, r) (content turns clockwise on screen).
  int64_t worst = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t d = std::abs(int{r90.at(r, c, k)} - int{src.at(n - 1 - c, r, k)});
        worst = std::max(worst, d);
        if (std::max(std::abs(r - n / 2), std::abs(c - n / 2)) > 1) REQUIRE(d == 0);
      }
  CHECK(worst <= 1);
  p.theta = 180;
  AugmentParams hv;
  hv.flip_horizontal = hv.flip_vertical = true;
  CHECK(apply(src, p).pixels == apply(src, hv).pixels);
  // An even size rotates about the centre between pixels, too.
  const Image e = noise_image(8, 8, 1);
  p.theta = -90;
  const Image m90 = apply(e, p);
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t c = 0; c < 8; ++c) REQUIRE(m90.at(r, c, 0) == e.at(c, 7 - r, 0));
}

TEST_CASE("augment: whole-pixel shifts with each fill mode (scipy.ndimage semantics)",
          "[augment]") {
  const Image src = ramp_image(3, 5);  // rows: 1..5, 11..15, 21..25
  auto row = [](const Image& img, int64_t r) {
    std::vector<int> v;
    for (int64_t c = 0; c < img.width; ++c) v.push_back(img.at(r, c, 0));
    return v;
  };
  AugmentParams right, left, down;
  right.ty = 2;  // out(r, c) = src(r, c + 2): content moves left
  left.ty = -2;  // out(r, c) = src(r, c - 2)
  down.tx = 1;   // out(r, c) = src(r + 1, c)
  using V = std::vector<int>;
  // nearest: aaaa|abcd|dddd
  CHECK(row(apply(src, right), 1) == V{13, 14, 15, 15, 15});
  CHECK(row(apply(src, left), 1) == V{11, 11, 11, 12, 13});
  // constant: cval everywhere outside [0, n-1]
  CHECK(row(apply(src, right, FillMode::constant, 7), 1) == V{13, 14, 15, 7, 7});
  CHECK(row(apply(src, left, FillMode::constant, 7), 1) == V{7, 7, 11, 12, 13});
  // reflect: dcba|abcd|dcba (index n -> n-1, n+1 -> n-2, -1 -> 0, -2 -> 1)
  CHECK(row(apply(src, right, FillMode::reflect), 1) == V{13, 14, 15, 15, 14});
  CHECK(row(apply(src, left, FillMode::reflect), 1) == V{12, 11, 11, 12, 13});
  // wrap (scipy, period n-1 = 4): index 5 -> 1, 6 -> 2, -1 -> 3, -2 -> 2
  CHECK(row(apply(src, right, FillMode::wrap), 1) == V{13, 14, 15, 12, 13});
  CHECK(row(apply(src, left, FillMode::wrap), 1) == V{13, 14, 11, 12, 13});
  // Rows: height shift moves along rows.
  const Image d = apply(src, down, FillMode::constant, 0);
  CHECK(row(d, 0) == V{11, 12, 13, 14, 15});
  CHECK(row(d, 1) == V{21, 22, 23, 24, 25});
  CHECK(row(d, 2) == V{0, 0, 0, 0, 0});
  CHECK(row(apply(src, down, FillMode::reflect), 2) == V{21, 22, 23, 24, 25});
  CHECK(row(apply(src, down, FillMode::wrap), 2) == V{11, 12, 13, 14, 15});  // 3 -> 1
  // Half a pixel blends the two neighbours; constant does not blend cval in at the border.
  AugmentParams half;
  half.ty = 0.5;
  CHECK(row(apply(src, half, FillMode::constant, 100), 0) == V{2, 3, 4, 5, 100});  // 1.5 -> 2
  CHECK(row(apply(src, half, FillMode::nearest), 0) == V{2, 3, 4, 5, 5});
}

TEST_CASE("augment: random parameters follow the Keras ranges", "[augment]") {
  Augmentation a = augmentation_preset("seed000");
  a.brightness_range = std::array<double, 2>{0.8, 1.2};
  a.channel_shift_range = 10;
  double max_ty = 0, max_tx = 0, min_z = 2, max_z = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    const AugmentParams p = random_augment_params(a, 100, 50, 3, 1, i);
    REQUIRE(std::abs(p.theta) <= 40);
    REQUIRE(std::abs(p.tx) <= 0.2 * 100);  // height shift: fraction of the height
    REQUIRE(std::abs(p.ty) <= 0.2 * 50);   // width shift: fraction of the width
    REQUIRE(std::abs(p.shear) <= 0.2);
    REQUIRE((p.zx >= 0.8 && p.zx <= 1.2 && p.zy >= 0.8 && p.zy <= 1.2));
    REQUIRE(p.zx != p.zy);  // drawn independently
    REQUIRE((p.brightness && *p.brightness >= 0.8 && *p.brightness <= 1.2));
    REQUIRE((p.channel_shift_intensity && std::abs(*p.channel_shift_intensity) <= 10));
    REQUIRE_FALSE(p.flip_vertical);
    max_tx = std::max(max_tx, std::abs(p.tx)), max_ty = std::max(max_ty, std::abs(p.ty));
    min_z = std::min(min_z, p.zx), max_z = std::max(max_z, p.zx);
  }
  CHECK(max_tx > 15);
  CHECK(max_ty > 7.5);
  CHECK(min_z < 0.85);
  CHECK(max_z > 1.15);
  Augmentation px;  // >= 1: pixels
  px.width_shift_range = 3;
  for (uint64_t i = 0; i < 100; ++i)
    REQUIRE(std::abs(random_augment_params(px, 100, 50, 3, 1, i).ty) <= 3);
  CHECK_FALSE(random_augment_params(Augmentation{}, 9, 9, 1, 1, 1).brightness);
}

TEST_CASE("augment: same key gives the same bytes, another key other bytes", "[augment]") {
  const Image src = noise_image(32, 32, 3);
  const Augmentation a = augmentation_preset("seed000");
  const Image x = augment_image(src, a, 11, 2, 5);
  CHECK(augment_image(src, a, 11, 2, 5).pixels == x.pixels);
  CHECK(augment_image(src, a, 11, 2, 6).pixels != x.pixels);
  CHECK(augment_image(src, a, 11, 3, 5).pixels != x.pixels);
  CHECK(augment_image(src, a, 12, 2, 5).pixels != x.pixels);
  // The reusable output keeps its buffer (no allocation in the steady state).
  Image out;
  augment_image(src, a, 11, 2, 5, out);
  const uint8_t* buf = out.pixels.data();
  augment_image(src, a, 11, 2, 7, out);
  CHECK(out.pixels.data() == buf);
  // The float output is the unrounded warp (Keras keeps floats).
  std::vector<float> f(src.pixels.size());
  augment_pixels(src.pixels.data(), 32, 32, 3, a, 11, 2, 5, f.data());
  for (size_t i = 0; i < f.size(); ++i) REQUIRE(std::abs(f[i] - x.pixels[i]) <= 0.5f + 1e-4f);
}

TEST_CASE("augment: brightness and channel shift clip as Keras does", "[augment]") {
  Image src{1, 5, 1, {10, 20, 100, 200, 250}};
  AugmentParams p;
  p.brightness = 1.5;  // Pillow: trunc(v * 1.5), clipped to 255
  CHECK(apply(src, p).pixels == std::vector<uint8_t>{15, 30, 150, 255, 255});
  p.brightness = 0.33;  // trunc, not round: 200 * 0.33 = 66
  CHECK(apply(src, p).pixels == std::vector<uint8_t>{3, 6, 33, 66, 82});
  p.brightness.reset();
  p.channel_shift_intensity = 30;  // clipped to the image's own [min, max] = [10, 250]
  CHECK(apply(src, p).pixels == std::vector<uint8_t>{40, 50, 130, 230, 250});
  p.channel_shift_intensity = -30.4;
  CHECK(apply(src, p).pixels == std::vector<uint8_t>{10, 10, 70, 170, 220});
  Image rgb{1, 2, 3, {0, 100, 255, 50, 60, 70}};  // one intensity for every channel
  p.channel_shift_intensity = 20;
  CHECK(apply(rgb, p).pixels == std::vector<uint8_t>{20, 120, 255, 70, 80, 90});
}

TEST_CASE("augment: parse_augmentation, to_string round trip and errors", "[augment]") {
  const Augmentation s0 = parse_augmentation("rotation=40,shift=0.2,shear=0.2,zoom=0.2,hflip");
  CHECK(s0 == augmentation_preset("seed000"));
  CHECK(s0.zoom_range == std::array<double, 2>{1 - 0.2, 1 + 0.2});
  CHECK(parse_augmentation(
            "rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,"
            "zoom_range=0.2, horizontal_flip=true, fill_mode=nearest") == s0);
  CHECK(parse_augmentation("seed003") == augmentation_preset("seed003"));
  CHECK(parse_augmentation("seed000-augment") == s0);
  CHECK_FALSE(parse_augmentation("").enabled());
  CHECK_FALSE(parse_augmentation("none").enabled());
  const Augmentation full = parse_augmentation(
      "rotation=12.5,width_shift=3,height_shift=0.1,shear=0.15,zoom=0.7:1.1,vflip,hflip=0,"
      "fill=constant,cval=128,brightness=0.8:1.2,channel_shift=10");
  CHECK(full.width_shift_range == 3);
  CHECK(full.zoom_range == std::array<double, 2>{0.7, 1.1});
  CHECK(full.vertical_flip);
  CHECK_FALSE(full.horizontal_flip);
  CHECK(full.fill_mode == FillMode::constant);
  CHECK(full.brightness_range == std::array<double, 2>{0.8, 1.2});
  for (const Augmentation& a : {s0, augmentation_preset("seed003"), full, Augmentation{}}) {
    INFO(to_string(a));
    CHECK(parse_augmentation(to_string(a)) == a);
  }
  CHECK(to_string(s0) == "rotation=40,shift=0.2,shear=0.2,zoom=0.2,hflip");
  for (const char* fill : {"reflect", "wrap"})
    CHECK(to_string(parse_augmentation(std::string("fill=") + fill)) ==
          std::string("fill=") + fill);

  auto error = [](const char* spec) {
    try {
      parse_augmentation(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(error("rotaton=10"), Contains("unknown key 'rotaton'"));
  CHECK_THAT(error("rotation=ten"), Contains("bad value 'ten' for rotation"));
  CHECK_THAT(error("rotation"), Contains("rotation needs a value"));
  CHECK_THAT(error("zoom=0.2:x"), Contains("bad value 'x' for zoom"));
  CHECK_THAT(error("brightness=1.2"), Contains("expected lo:hi"));
  CHECK_THAT(error("fill=mirror"), Contains("bad value 'mirror' for fill"));
  CHECK_THAT(error("hflip=yes"), Contains("bad value 'yes' for hflip"));
  CHECK_THAT(error("shift=0.1,width_shift=0.2"), Contains("width_shift_range is given twice"));
  CHECK_THAT(error("zoom=1.2:0.8"), Contains("zoom_range [1.2, 0.8]"));
  CHECK_THAT(error("rotation=-5"), Contains("rotation_range -5"));
  CHECK_THAT(error("cval=300"), Contains("cval 300"));
  CHECK_THAT(error("rotation=1,,hflip"), Contains("empty item"));
  CHECK_THROWS_WITH(augmentation_preset("seed001"), Contains("unknown preset 'seed001'"));
  Augmentation bad;
  bad.zoom_range = {0, 1};
  CHECK_THROWS_WITH(augment_image(noise_image(4, 4, 1), bad, 1, 1, 1), Contains("zoom_range"));
}

TEST_CASE("augment: augment_folder writes N variants per image, atomically", "[augment]") {
  const fs::path data = fs::path(MOODNET_SHARED_DATA_DIR) / "ckplus48" / "all";
  if (!fs::is_directory(data / "happy") || !fs::is_directory(data / "sad")) {
    WARN("skipped: " << data.string() << " not found");
    return;
  }
  TempDir tmp;
  const fs::path in = tmp.path / "in", out = tmp.path / "out", out2 = tmp.path / "out2";
  std::vector<fs::path> expected, sources;
  for (const char* cls : {"happy", "sad"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(data / cls)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 2);
    fs::create_directories(in / cls);
    for (size_t i = 0; i < 2; ++i) {
      fs::copy_file(files[i], in / cls / files[i].filename());
      sources.push_back(files[i]);
      for (int k = 0; k < 3; ++k)
        expected.push_back(fs::path(cls) /
                           (files[i].stem().string() + "_aug" + std::to_string(k) + ".png"));
    }
  }
  { std::ofstream(in / "sad" / "broken.jpg") << "not a jpeg"; }
  std::sort(expected.begin(), expected.end());

  const Augmentation a = augmentation_preset("seed003");
  const AugmentFolderReport rep = augment_folder(in, out, 3, a, 42);
  CHECK(rep.images == 4);
  CHECK(rep.files_written == 12);
  REQUIRE(rep.skipped.size() == 1);
  CHECK(rep.skipped[0].path.filename() == "broken.jpg");
  CHECK_THAT(rep.skipped[0].reason, Catch::Matchers::Contains("broken.jpg"));
  CHECK(files_under(out) == expected);  // no temporary file left

  const Image img = decode_image(out / expected[0], ColorMode::rgb);
  CHECK(img.height == 48);
  CHECK(img.width == 48);
  // Deterministic: a second run writes the same pixels.
  augment_folder(in, out2, 3, a, 42);
  for (const auto& f : expected)
    REQUIRE(decode_image(out / f, ColorMode::rgb).pixels ==
            decode_image(out2 / f, ColorMode::rgb).pixels);

  AugmentFolderOptions strict;
  strict.strict = true;
  CHECK_THROWS_WITH(augment_folder(in, out, 1, a, 1, strict),
                    Catch::Matchers::Contains("broken.jpg"));
  CHECK_THROWS_WITH(augment_folder(in, in, 1, a, 1),
                    Catch::Matchers::Contains("refusing to write into the input folder"));
  CHECK_THROWS_WITH(augment_folder(in, in / "happy" / "x" / "..", 1, a, 1),
                    Catch::Matchers::Contains("refusing"));
  CHECK_THROWS_WITH(augment_folder(in, out, 0, a, 1), Catch::Matchers::Contains("copies"));
  { std::ofstream(tmp.path / "a_file") << "x"; }
  CHECK_THROWS_WITH(augment_folder(in, tmp.path / "a_file", 1, a, 1),
                    Catch::Matchers::Contains("cannot write"));

  // Sub-folders are kept; a stem shared by two files gets the extension appended; JPEG output.
  const fs::path in3 = tmp.path / "in3", out3 = tmp.path / "out3";
  const fs::path one = sources.front();
  fs::create_directories(in3 / "a" / "sub");
  fs::create_directories(in3 / "b");
  fs::copy_file(one, in3 / "a" / "x.png");
  fs::copy_file(one, in3 / "a" / "x.jpg");  // a PNG under a .jpg name still decodes
  fs::copy_file(one, in3 / "a" / "sub" / "y.png");
  fs::copy_file(one, in3 / "b" / "z.png");
  AugmentFolderOptions jpeg;
  jpeg.jpeg = true;
  jpeg.height = jpeg.width = 20;
  CHECK(augment_folder(in3, out3, 1, a, 7, jpeg).files_written == 4);
  CHECK(files_under(out3) == std::vector<fs::path>{"a/sub/y_aug0.jpg", "a/x_aug0.jpg",
                                                   "a/x_png_aug0.jpg", "b/z_aug0.jpg"});
  CHECK(decode_image(out3 / "b" / "z_aug0.jpg", ColorMode::rgb).width == 20);
}
