// Image data pipeline: decoding, TF-compatible resize, folder scanning, splits, ImageDataset.
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <moodnet/data/folder.hpp>
#include <moodnet/data/groups.hpp>
#include <moodnet/data/image.hpp>
#include <moodnet/data/image_dataset.hpp>
#include <set>
#include <string>
#include <vector>

#include "image_files.hpp"
#include "temp_dir.hpp"
#include "thread_count.hpp"

using namespace moodnet;
namespace fs = std::filesystem;

using namespace moodnet::test;

TEST_CASE("data: decode PNG, JPEG, BMP, TGA, GIF with channel handling", "[data]") {
  TempDir t;
  // RGB PNG: 3x2, distinct pixels.
  const std::vector<uint8_t> rgb{255, 0,  0,  0,   255, 0,   0, 0, 255,
                                 10,  20, 30, 255, 255, 255, 0, 0, 0};
  write_png(t.path / "rgb.png", 3, 2, 3, rgb);
  Image a = decode_image(t.path / "rgb.png", ColorMode::rgb);
  CHECK(a.height == 2);
  CHECK(a.width == 3);
  CHECK(a.channels == 3);
  CHECK(a.pixels == rgb);

  // Grayscale = Pillow's convert("L"): ITU-R 601 luma in 16-bit fixed point, rounded.
  Image g = decode_image(t.path / "rgb.png", ColorMode::grayscale);
  CHECK(g.channels == 1);
  CHECK(g.pixels == std::vector<uint8_t>{76, 150, 29, 18, 255, 0});

  // Gray PNG: rgb replicates, grayscale keeps the values.
  const std::vector<uint8_t> gray{0, 17, 128, 255};
  write_png(t.path / "gray.png", 2, 2, 1, gray);
  Image g1 = decode_image(t.path / "gray.png", ColorMode::grayscale);
  CHECK(g1.channels == 1);
  CHECK(g1.pixels == gray);
  Image g3 = decode_image(t.path / "gray.png", ColorMode::rgb);
  CHECK(g3.channels == 3);
  CHECK(g3.pixels == std::vector<uint8_t>{0, 0, 0, 17, 17, 17, 128, 128, 128, 255, 255, 255});

  // Gray + alpha and RGBA: alpha dropped, colour untouched (no compositing, as PIL convert).
  write_png(t.path / "ga.png", 2, 1, 2, {40, 0, 200, 128});
  CHECK(decode_image(t.path / "ga.png", ColorMode::grayscale).pixels ==
        std::vector<uint8_t>{40, 200});
  CHECK(decode_image(t.path / "ga.png", ColorMode::rgb).pixels ==
        std::vector<uint8_t>{40, 40, 40, 200, 200, 200});
  write_png(t.path / "rgba.png", 2, 1, 4, {255, 0, 0, 0, 1, 2, 3, 255});
  Image r = decode_image(t.path / "rgba.png", ColorMode::rgb);
  CHECK(r.channels == 3);
  CHECK(r.pixels == std::vector<uint8_t>{255, 0, 0, 1, 2, 3});
  CHECK(decode_image(t.path / "rgba.png", ColorMode::grayscale).pixels ==
        std::vector<uint8_t>{76, 2});

  // Palette PNG (2 colours, 8-bit indices) and 16-bit gray PNG.
  write_bytes(t.path / "pal.png", make_png(3, 1, 8, 3, {{1, 0, 1}}, {0, 0, 255, 250, 100, 0}));
  CHECK(decode_image(t.path / "pal.png", ColorMode::rgb).pixels ==
        std::vector<uint8_t>{250, 100, 0, 0, 0, 255, 250, 100, 0});
  write_bytes(t.path / "g16.png", make_png(2, 1, 16, 0, {{0xAB, 0xCD, 0x12, 0x34}}));
  Image g16 = decode_image(t.path / "g16.png", ColorMode::grayscale);
  CHECK(g16.pixels == std::vector<uint8_t>{0xAB, 0x12});

  // JPEG (lossy: a uniform colour comes back within a few levels), BMP, TGA exact.
  write_jpg(t.path / "c.jpg", 16, 8, 3, uniform(16, 8, {200, 100, 50}));
  Image j = decode_image(t.path / "c.jpg", ColorMode::rgb);
  REQUIRE((j.height == 8 && j.width == 16 && j.channels == 3));
  CHECK(std::abs(int(j.at(4, 7, 0)) - 200) <= 3);
  CHECK(std::abs(int(j.at(4, 7, 1)) - 100) <= 3);
  CHECK(std::abs(int(j.at(4, 7, 2)) - 50) <= 3);
  Image jg = decode_image(t.path / "c.jpg", ColorMode::grayscale);
  CHECK(jg.channels == 1);
  CHECK(std::abs(int(jg.at(4, 7, 0)) - int(detail::luma601(200, 100, 50))) <= 3);
  REQUIRE(stbi_write_bmp(str(t.path / "b.bmp").c_str(), 3, 2, 3, rgb.data()) != 0);
  CHECK(decode_image(t.path / "b.bmp", ColorMode::rgb).pixels == rgb);
  REQUIRE(stbi_write_tga(str(t.path / "t.tga").c_str(), 3, 2, 3, rgb.data()) != 0);
  CHECK(decode_image(t.path / "t.tga", ColorMode::rgb).pixels == rgb);

  // GIF (1x1, palette entry 0 = red): first frame.
  write_bytes(t.path / "r.gif",
              {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
               0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
               0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b});
  CHECK(decode_image(t.path / "r.gif", ColorMode::rgb).pixels == std::vector<uint8_t>{255, 0, 0});
}

TEST_CASE("data: decode errors name the file and the reason", "[data]") {
  TempDir t;
  const fs::path missing = t.path / "missing.png";
  REQUIRE_THROWS_AS(decode_image(missing, ColorMode::rgb), Error);
  REQUIRE_THROWS_WITH(decode_image(missing, ColorMode::rgb),
                      Catch::Contains("missing.png") && Catch::Contains("not found"));
  write_bytes(t.path / "empty.jpg", {});
  REQUIRE_THROWS_WITH(decode_image(t.path / "empty.jpg", ColorMode::rgb),
                      Catch::Contains("empty.jpg") && Catch::Contains("0 bytes"));
  write_text(t.path / "text.jpg", "this is not a JPEG, only text that pretends to be one\n");
  REQUIRE_THROWS_WITH(decode_image(t.path / "text.jpg", ColorMode::rgb),
                      Catch::Contains("text.jpg") && Catch::Contains("not a supported image"));
  write_jpg(t.path / "full.jpg", 64, 64, 3, noise(64, 64, 3));
  auto bytes = read_bytes(t.path / "full.jpg");
  bytes.resize(bytes.size() / 2);
  write_bytes(t.path / "trunc.jpg", bytes);
  REQUIRE_THROWS_WITH(decode_image(t.path / "trunc.jpg", ColorMode::rgb),
                      Catch::Contains("trunc.jpg") && Catch::Contains("truncated or corrupt"));
  write_png(t.path / "ok.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
  auto png = read_bytes(t.path / "ok.png");
  png.resize(png.size() - 20);
  write_bytes(t.path / "trunc.png", png);
  REQUIRE_THROWS_WITH(decode_image(t.path / "trunc.png", ColorMode::rgb),
                      Catch::Contains("trunc.png"));
  REQUIRE_THROWS_WITH(decode_image(t.path, ColorMode::rgb), Catch::Contains("is a directory"));
  // Size limit checked from the header, before decoding.
  REQUIRE_THROWS_WITH(
      decode_image(t.path / "ok.png", ColorMode::rgb, 15),
      Catch::Contains("ok.png") && Catch::Contains("4x4 = 16 pixels") && Catch::Contains("15"));
  CHECK(decode_image(t.path / "ok.png", ColorMode::rgb, 16).num_pixels() == 16);
}

TEST_CASE("data: a JPEG Huffman table with more than 256 codes is refused before stb sees it",
          "[data]") {
  // Found by fuzzing (scripts/fuzz.sh): Debian's stb_image writes past a buffer on such a table.
  TempDir t;
  write_jpg(t.path / "ok.jpg", 16, 16, 3, noise(16, 16, 3));
  auto bytes = read_bytes(t.path / "ok.jpg");
  REQUIRE(decode_image(t.path / "ok.jpg", ColorMode::rgb).num_pixels() == 256);
  size_t dht = 0;
  for (size_t i = 2; i + 1 < bytes.size(); ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC4) {
      dht = i;
      break;
    }
  REQUIRE(dht > 0);
  for (size_t k = 0; k < 16; ++k) bytes[dht + 5 + k] = 200;  // 16 x 200 codes declared
  write_bytes(t.path / "evil.jpg", bytes);
  REQUIRE_THROWS_WITH(decode_image(t.path / "evil.jpg", ColorMode::rgb),
                      Catch::Contains("evil.jpg") && Catch::Contains("Huffman table") &&
                          Catch::Contains("3200 codes"));
  // A scan naming Huffman tables that were never defined (stb would read uninitialised memory).
  auto scan = read_bytes(t.path / "ok.jpg");
  size_t sos = 0;
  for (size_t i = 2; i + 1 < scan.size(); ++i)
    if (scan[i] == 0xFF && scan[i + 1] == 0xDA) {
      sos = i;
      break;
    }
  REQUIRE(sos > 0);
  scan[sos + 6] = 0x33;  // first component: DC table 3, AC table 3
  write_bytes(t.path / "undefined.jpg", scan);
  REQUIRE_THROWS_WITH(decode_image(t.path / "undefined.jpg", ColorMode::rgb),
                      Catch::Contains("undefined.jpg") && Catch::Contains("never defined"));
}

TEST_CASE("data: resize_bilinear matches tf.image.resize (half-pixel centres)", "[data]") {
  // 2x2 -> 4x4: source coordinates -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
  const Image up = resize_bilinear(make_image(2, 2, 1, {0, 100, 200, 40}), 4, 4);
  CHECK(up.height == 4);
  CHECK(up.width == 4);
  CHECK(up.pixels == std::vector<uint8_t>{0, 25, 75, 100,      //
                                          50, 59, 76, 85,      // 58.75, 76.25
                                          150, 126, 79, 55,    // 126.25, 78.75
                                          200, 160, 80, 40});  //
  // 4x4 -> 2x2: source coordinates 0.5 and 2.5, i.e. the mean of each 2x2 block.
  std::vector<uint8_t> px;
  for (int i = 0; i < 16; ++i) px.push_back(static_cast<uint8_t>(10 * i));
  const Image down = resize_bilinear(make_image(4, 4, 1, px), 2, 2);
  CHECK(down.pixels == std::vector<uint8_t>{25, 45, 105, 125});
  // Non-integer scale 3 -> 2 (coordinates 0.25 and 1.75), channels independent.
  const Image odd = resize_bilinear(make_image(1, 3, 2, {0, 200, 100, 100, 200, 0}), 1, 2);
  CHECK(odd.pixels == std::vector<uint8_t>{25, 175, 175, 25});
  // Same size is the identity; 1x1 -> 3x2 replicates.
  const Image same = make_image(2, 2, 1, {1, 2, 3, 4});
  CHECK(resize_bilinear(same, 2, 2).pixels == same.pixels);
  CHECK(resize_bilinear(make_image(1, 1, 3, {7, 8, 9}), 3, 2).pixels == uniform(2, 3, {7, 8, 9}));
  REQUIRE_THROWS_WITH(resize_bilinear(same, 0, 2), Catch::Contains("positive"));
  REQUIRE_THROWS_AS(resize_bilinear(make_image(2, 2, 1, {1, 2, 3}), 4, 4), Error);

  TempDir t;
  write_png(t.path / "a.png", 2, 2, 1, {0, 100, 200, 40});
  const Image loaded = load_image(t.path / "a.png", 4, 4, ColorMode::grayscale);
  CHECK(loaded.pixels == up.pixels);
}

TEST_CASE("data: scan_image_folder follows Keras' class and file order", "[data]") {
  TempDir t;
  const fs::path r = t.path / "tree";
  for (const char* f : {"sad/b.png", "sad/a.JPG", "sad/notes.txt", "sad/sub/c.bmp", "sad/z.tga",
                        "happy/x.jpeg", "happy/y.gif", "happy/deep/er/w.png", "happy/README",
                        ".hidden/h.png", "neutral/n.png", "neutral/n.webp"})
    write_text(r / f, "");
  write_text(r / "loose.png", "");                         // not inside a class folder: ignored
  fs::create_directory_symlink("..", r / "sad" / "loop");  // a link cycle must not be followed

  const ImageFolder f = scan_image_folder(r);
  CHECK(f.root == r);
  CHECK(f.class_names == std::vector<std::string>{"happy", "neutral", "sad"});
  std::vector<std::string> rel;
  for (const auto& p : f.files) rel.push_back(p.lexically_relative(r).generic_string());
  CHECK(rel == std::vector<std::string>{"happy/x.jpeg", "happy/y.gif", "happy/deep/er/w.png",
                                        "neutral/n.png", "sad/a.JPG", "sad/b.png", "sad/z.tga",
                                        "sad/sub/c.bmp"});
  CHECK(f.labels == std::vector<int>{0, 0, 0, 1, 2, 2, 2, 2});
  CHECK(f.class_counts() == std::vector<int64_t>{3, 1, 4});

  // An explicit list picks and orders classes.
  const ImageFolder g = scan_image_folder(r, {"sad", "happy"});
  CHECK(g.class_names == std::vector<std::string>{"sad", "happy"});
  CHECK(g.labels == std::vector<int>{0, 0, 0, 0, 1, 1, 1});
  CHECK(g.files.front() == r / "sad" / "a.JPG");
  REQUIRE_THROWS_WITH(scan_image_folder(r, {"happy", "angry"}), Catch::Contains("'angry'"));
  REQUIRE_THROWS_WITH(scan_image_folder(r, {"happy", "happy"}), Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(scan_image_folder(r, {"happy"}), Catch::Contains("at least 2"));

  // Errors.
  REQUIRE_THROWS_WITH(scan_image_folder(t.path / "nope"),
                      Catch::Contains("nope") && Catch::Contains("does not exist"));
  REQUIRE_THROWS_WITH(scan_image_folder(r / "loose.png"), Catch::Contains("not a directory"));
  write_text(t.path / "one" / "happy" / "a.png", "");
  REQUIRE_THROWS_WITH(scan_image_folder(t.path / "one"), Catch::Contains("at least 2"));
  fs::create_directories(t.path / "flat");
  write_text(t.path / "flat" / "a.png", "");
  REQUIRE_THROWS_WITH(scan_image_folder(t.path / "flat"), Catch::Contains("no class folders"));
  write_text(t.path / "noimg" / "happy" / "a.txt", "");
  write_text(t.path / "noimg" / "sad" / "b.doc", "");
  REQUIRE_THROWS_WITH(scan_image_folder(t.path / "noimg"), Catch::Contains("no images"));
}

TEST_CASE("data: validation_split follows Keras' shuffled tail", "[data]") {
  const Split s = validation_split(100, 0.2, 7);
  CHECK(s.validation.size() == 20);
  CHECK(s.train.size() == 80);
  CHECK(s.test.empty());
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.validation.begin(), s.validation.end());
  CHECK(all.size() == 100);
  CHECK(validation_split(100, 0.2, 7).validation == s.validation);
  CHECK(validation_split(100, 0.2, 8).validation != s.validation);
  CHECK(validation_split(3, 0.01, 1).validation.size() == 1);  // never empty
  REQUIRE_THROWS_WITH(validation_split(10, 1.0, 1), Catch::Contains("(0, 1)"));
}

TEST_CASE("data: group_split keeps every CK+ subject on one side", "[data]") {
  const fs::path dir = fs::path(MOODNET_SHARED_DATA_DIR) / "ckplus48" / "all";
  if (!fs::exists(dir)) {
    WARN("skipped: " << dir.string() << " is absent");
    return;
  }
  const ImageFolder folder = scan_image_folder(dir);
  int64_t unmatched = -1;
  const auto keys = group_keys(folder.files, "^(S[0-9]+)_", &unmatched);
  CHECK(unmatched == 0);
  CHECK(keys.front().rfind("S", 0) == 0);
  const std::set<std::string> subjects(keys.begin(), keys.end());
  CHECK(subjects.size() > 20);
  const Split s = group_split(folder.labels, keys, 0.15, 0.2, 3);
  auto groups_of = [&](const std::vector<int64_t>& side) {
    std::set<std::string> g;
    for (int64_t i : side) g.insert(keys[static_cast<size_t>(i)]);
    return g;
  };
  const auto tr = groups_of(s.train), va = groups_of(s.validation), te = groups_of(s.test);
  for (const auto& g : te) CHECK((tr.count(g) == 0 && va.count(g) == 0));
  for (const auto& g : va) CHECK(tr.count(g) == 0);
  CHECK(s.train.size() + s.validation.size() + s.test.size() == folder.files.size());
  // Group granularity: test holds at least its share, and not wildly more.
  const double n = static_cast<double>(folder.files.size());
  CHECK(static_cast<double>(s.test.size()) >= 0.2 * n - 1);
  CHECK(static_cast<double>(s.test.size()) <= 0.35 * n);
  CHECK(!s.validation.empty());
  // Both classes reach the test side.
  std::set<int> test_labels;
  for (int64_t i : s.test) test_labels.insert(folder.labels[static_cast<size_t>(i)]);
  CHECK(test_labels.size() == 2);
  // Deterministic, and independent of the order the files come in: listed in reverse, the
  // same subjects land on each side.
  const Split again = group_split(folder.labels, keys, 0.15, 0.2, 3);
  CHECK(again.test == s.test);
  CHECK(group_split(folder.labels, keys, 0.15, 0.2, 4).test != s.test);
  const std::vector<int> reversed_labels(folder.labels.rbegin(), folder.labels.rend());
  const std::vector<std::string> reversed_keys(keys.rbegin(), keys.rend());
  const Split reversed = group_split(reversed_labels, reversed_keys, 0.15, 0.2, 3);
  auto reversed_groups_of = [&](const std::vector<int64_t>& side) {
    std::set<std::string> g;
    for (int64_t i : side) g.insert(reversed_keys[static_cast<size_t>(i)]);
    return g;
  };
  CHECK(reversed_groups_of(reversed.test) == te);
  CHECK(reversed_groups_of(reversed.validation) == va);
  CHECK(reversed_groups_of(reversed.train) == tr);
}

TEST_CASE("data: group_keys and group_split errors", "[data]") {
  const std::vector<fs::path> files{"a/S1_x.png", "b/S1_y.png", "c/other.png"};
  int64_t unmatched = 0;
  const auto keys = group_keys(files, "^(S[0-9]+)_", &unmatched);
  CHECK(keys[0] == "S1");
  CHECK(keys[1] == "S1");
  CHECK(keys[0] != keys[2]);
  CHECK(unmatched == 1);
  CHECK(group_keys(files, "S[0-9]+")[0] == "S1");  // no capture group: the whole match
  REQUIRE_THROWS_WITH(group_keys(files, "(S[0-9]+"), Catch::Contains("(S[0-9]+"));
  REQUIRE_THROWS_WITH(group_split({0, 1}, {"a"}, 0.1, 0.1, 1), Catch::Contains("group keys"));
  REQUIRE_THROWS_WITH(group_split({0, 1}, {"a", "b"}, 0.6, 0.6, 1), Catch::Contains("at most 1"));
}

TEST_CASE("data: stratified_split counts and determinism", "[data]") {
  // 50 / 30 / 7 samples of classes 0 / 1 / 2, interleaved.
  std::vector<int> labels(87);
  const auto perm = shuffled_indices(87, 5, 0);
  for (size_t i = 0; i < labels.size(); ++i)
    labels[static_cast<size_t>(perm[i])] = i < 50 ? 0 : i < 80 ? 1 : 2;
  const Split s = stratified_split(labels, 0.2, 0.1, 42);
  auto count = [&](const std::vector<int64_t>& v, int c) {
    int n = 0;
    for (auto k : v) n += labels[static_cast<size_t>(k)] == c;
    return n;
  };
  CHECK(count(s.test, 0) == 5);
  CHECK(count(s.validation, 0) == 10);
  CHECK(count(s.train, 0) == 35);
  CHECK(count(s.test, 1) == 3);
  CHECK(count(s.validation, 1) == 6);
  CHECK(count(s.train, 1) == 21);
  CHECK(count(s.test, 2) == 1);        // round(0.7)
  CHECK(count(s.validation, 2) == 1);  // round(1.4)
  CHECK(count(s.train, 2) == 5);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.validation.begin(), s.validation.end());
  all.insert(s.test.begin(), s.test.end());
  CHECK(all.size() == labels.size());
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));

  const Split again = stratified_split(labels, 0.2, 0.1, 42);
  CHECK(again.train == s.train);
  CHECK(again.validation == s.validation);
  CHECK(again.test == s.test);
  const Split other = stratified_split(labels, 0.2, 0.1, 43);
  CHECK(other.test != s.test);

  const Split none = stratified_split(labels, 0.0, 0.0, 1);
  CHECK(none.train.size() == labels.size());
  CHECK(none.validation.empty());
  REQUIRE_THROWS_WITH(stratified_split(labels, 0.7, 0.5, 1), Catch::Contains("sum to at most 1"));
  REQUIRE_THROWS_WITH(stratified_split(labels, -0.1, 0.0, 1), Catch::Contains("fractions"));
  REQUIRE_THROWS_WITH(stratified_split({0, -1}, 0.1, 0.1, 1), Catch::Contains("negative label"));
}

TEST_CASE("data: ImageDataset batches, skips bad files, strict mode", "[data]") {
  TempDir t;
  const fs::path r = t.path / "ds";
  fs::create_directories(r / "happy");
  fs::create_directories(r / "sad");
  write_png(r / "happy" / "h1.png", 8, 6, 3, uniform(8, 6, {255, 0, 0}));
  write_png(r / "happy" / "h2.png", 3, 5, 1, uniform(3, 5, {51}));
  write_bytes(r / "happy" / "h3_empty.jpg", {});
  write_png(r / "sad" / "s1.png", 4, 4, 4, uniform(4, 4, {0, 102, 0, 7}));
  write_text(r / "sad" / "s2_text.jpg", "hello, I am not a picture");
  write_jpg(t.path / "full.jpg", 64, 64, 3, noise(64, 64, 3));
  auto bytes = read_bytes(t.path / "full.jpg");
  bytes.resize(bytes.size() / 2);
  write_bytes(r / "sad" / "s3_trunc.jpg", bytes);

  const ImageFolder f = scan_image_folder(r);
  REQUIRE(f.size() == 6);
  std::vector<int64_t> all{0, 1, 2, 3, 4, 5};
  ImageDataset ds(f, all, 4, 5);  // rgb, 1/255
  CHECK(ds.size() == 3);
  CHECK(ds.sample_shape() == Shape{4, 5, 3});
  CHECK(ds.target_shape() == Shape{1});
  CHECK(ds.class_names() == std::vector<std::string>{"happy", "sad"});
  CHECK(ds.labels() == std::vector<int>{0, 0, 1});
  CHECK(ds.path(0).filename() == "h1.png");
  CHECK(ds.path(2).filename() == "s1.png");
  REQUIRE(ds.skipped().size() == 3);
  CHECK(ds.skipped()[0].path.filename() == "h3_empty.jpg");
  CHECK_THAT(ds.skipped()[0].reason, Catch::Contains("h3_empty.jpg") && Catch::Contains("0 bytes"));
  CHECK(ds.skipped()[1].path.filename() == "s2_text.jpg");
  CHECK(ds.skipped()[2].path.filename() == "s3_trunc.jpg");

  Tensor<Cpu> x, y;
  const std::vector<int64_t> batch{2, 0, 1};
  ds.load_batch(batch, 0, x, y);
  REQUIRE(x.shape() == Shape{3, 4, 5, 3});
  REQUIRE(y.shape() == Shape{3, 1});
  const float* xd = x.data();
  CHECK(xd[0] == 0.0f);
  CHECK(xd[1] == Approx(102 / 255.0));  // alpha dropped
  CHECK(xd[60 + 0] == Approx(1.0));     // red
  CHECK(xd[60 + 59] == 0.0f);
  CHECK(xd[120 + 30] == Approx(0.2));  // gray 51 replicated
  CHECK(y.data()[0] == 1.0f);
  CHECK(y.data()[1] == 0.0f);
  REQUIRE_THROWS_WITH(ds.load_batch(std::vector<int64_t>{3}, 0, x, y),
                      Catch::Contains("out of range"));

  // Grayscale, scale 1, reversed indices keep the given order.
  ImageDataset gs(f, {3, 0}, 2, 2, ColorMode::grayscale, 1.0f);
  CHECK(gs.sample_shape() == Shape{2, 2, 1});
  gs.load_batch(std::vector<int64_t>{0, 1}, 0, x, y);
  CHECK(x.data()[0] == float(detail::luma601(0, 102, 0)));
  CHECK(x.data()[4] == 76.0f);
  CHECK(y.data()[0] == 1.0f);

  // Strict: the bad file's name is in the error.
  REQUIRE_THROWS_WITH(ImageDataset(f, {0, 5}, 4, 5, ColorMode::rgb, 1.0f / 255, true),
                      Catch::Contains("s3_trunc.jpg"));
  ImageDatasetOptions o;
  o.height = o.width = 4;
  o.strict = true;
  REQUIRE_THROWS_WITH(ImageDataset(f, {0, 2}, o), Catch::Contains("h3_empty.jpg"));
  REQUIRE_THROWS_WITH(ImageDataset(f, {2, 4}, 4, 4), Catch::Contains("none of the 2 images"));
  REQUIRE_THROWS_WITH(ImageDataset(f, {6}, 4, 4), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(ImageDataset(f, {0}, 0, 4), Catch::Contains("positive"));
  CHECK(ImageDataset(f, {}, 4, 4).size() == 0);

  // More than two classes: one-hot targets.
  write_png(r / "neutral" / "n.png", 2, 2, 3, uniform(2, 2, {1, 2, 3}));
  const ImageFolder f3 = scan_image_folder(r);
  ImageDataset d3(f3, {0, 3, 4}, 2, 2);  // h1, n, s1
  CHECK(d3.target_shape() == Shape{3});
  d3.load_batch(std::vector<int64_t>{0, 1, 2}, 0, x, y);
  CHECK(std::vector<float>(y.data(), y.data() + 9) ==
        std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
}

TEST_CASE("data: ImageDataset augments batches by (seed, epoch, sample), any thread count",
          "[data]") {
  const test::ThreadCountGuard threads_guard;
  const fs::path sample = fs::path(MOODNET_SOURCE_DIR) / "data" / "sample" / "train";
  const ImageFolder folder = scan_image_folder(sample);
  std::vector<int64_t> some{0, 1, 2, 200, 201};
  ImageDatasetOptions o;
  o.height = o.width = 32;
  o.color_mode = ColorMode::grayscale;
  ImageDataset plain(folder, some, o);
  o.augmentation = augmentation_preset("seed000");
  o.augment_seed = 11;
  ImageDataset aug(folder, some, o);
  const std::vector<int64_t> idx{4, 0, 2};
  Tensor<Cpu> x0, y0, x1, y1, xp, yp;
  set_num_threads(1);
  aug.load_batch(idx, 0, x0, y0);
  set_num_threads(2);
  aug.load_batch(idx, 0, x1, y1);
  REQUIRE(x0.size() == x1.size());
  CHECK(std::memcmp(x0.data(), x1.data(), size_t(x0.size()) * sizeof(float)) == 0);
  plain.load_batch(idx, 0, xp, yp);
  CHECK(std::memcmp(x0.data(), xp.data(), size_t(x0.size()) * sizeof(float)) != 0);
  CHECK(std::memcmp(y0.data(), yp.data(), size_t(y0.size()) * sizeof(float)) == 0);
  aug.load_batch(idx, 1, x1, y1);  // another epoch, other warps
  CHECK(std::memcmp(x0.data(), x1.data(), size_t(x0.size()) * sizeof(float)) != 0);
  // Sample 2 of the batch is dataset sample 2, warped exactly as augment_pixels does.
  std::vector<float> want(32 * 32);
  augment_pixels(aug.pixels(2).data(), 32, 32, 1, o.augmentation, 11, 0, 2, want.data(),
                 1.0f / 255.0f);
  CHECK(std::memcmp(want.data(), x0.data() + 2 * 32 * 32, want.size() * sizeof(float)) == 0);
  o.augmentation.rotation_range = -5;
  REQUIRE_THROWS_AS(ImageDataset(folder, some, o), Error);
}

TEST_CASE("data: real files from the shared data and the embedded sample", "[data]") {
  const fs::path shared = MOODNET_SHARED_DATA_DIR;
  if (!fs::is_directory(shared)) {
    WARN("shared data directory " << shared.string() << " not found; real-file checks skipped");
  } else {
    // Progressive JPEG (612x408 RGB).
    const fs::path prog = shared / "getty-happy-sad/all/happy/gettyimages-1090837964-612x612.jpg";
    const Image p = decode_image(prog, ColorMode::rgb);
    CHECK(p.width == 612);
    CHECK(p.height == 408);
    CHECK(p.channels == 3);
    // Palette PNG (100x100) and RGBA PNG (860x577): 3 channels; grayscale = luma of the RGB.
    const fs::path pal = shared / "google-happy-sad/all/happy/image32.png";
    const Image prgb = decode_image(pal, ColorMode::rgb),
                pg = decode_image(pal, ColorMode::grayscale);
    REQUIRE((prgb.width == 100 && prgb.height == 100 && prgb.channels == 3 && pg.channels == 1));
    bool luma_ok = true;
    for (int64_t i = 0; i < pg.num_pixels(); ++i) {
      const auto k = static_cast<size_t>(i);
      luma_ok &= pg.pixels[k] == detail::luma601(prgb.pixels[3 * k], prgb.pixels[3 * k + 1],
                                                 prgb.pixels[3 * k + 2]);
    }
    CHECK(luma_ok);
    const Image rgba =
        decode_image(shared /
                         "google-happy-sad/all/sad/"
                         "280-2804580_sad-people-png-sad-person-png-transparent-png.png",
                     ColorMode::rgb);
    CHECK(rgba.width == 860);
    CHECK(rgba.height == 577);
    CHECK(rgba.channels == 3);
    const Image small = load_image(prog, 48, 64, ColorMode::grayscale);
    CHECK((small.height == 48 && small.width == 64 && small.channels == 1));
  }

  // The embedded sample: 149+149 train, 50+50 test, all grayscale (R == G == B).
  const fs::path sample = fs::path(MOODNET_SOURCE_DIR) / "data" / "sample";
  const ImageFolder train = scan_image_folder(sample / "train"),
                    test = scan_image_folder(sample / "test");
  CHECK(train.class_names == std::vector<std::string>{"happy", "sad"});
  CHECK(train.class_counts() == std::vector<int64_t>{149, 149});
  CHECK(test.class_counts() == std::vector<int64_t>{50, 50});
  std::vector<int64_t> idx(static_cast<size_t>(train.size()));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  ImageDataset ds(train, idx, 48, 48, ColorMode::rgb, 1.0f, true);
  CHECK(ds.size() == 298);
  bool gray = true;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const auto px = ds.pixels(i);
    for (size_t k = 0; k < px.size(); k += 3) gray &= px[k] == px[k + 1] && px[k] == px[k + 2];
  }
  CHECK(gray);
}
