// Dataset health check (moodnet/data/inspect.hpp): counts, unreadable files, exact duplicates
// (copies, conflicting labels, leakage), sizes, grayscale share and brightness; and the known
// duplicates of the shared fer2013 folder.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <moodnet/data/inspect.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "image_files.hpp"
#include "temp_dir.hpp"

using namespace moodnet;
namespace fs = std::filesystem;

namespace {

using moodnet::test::TempDir;

const fs::path shared_data = MOODNET_SHARED_DATA_DIR;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

void copy_into(const fs::path& from, const fs::path& to) { write_file(to, read_file(from)); }

std::vector<std::string> rel(const DatasetReport& r, const std::vector<fs::path>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.lexically_relative(r.root).generic_string());
  return out;
}

const ClassReport& cls(const DatasetReport& r, const std::string& split, const std::string& name) {
  for (const auto& s : r.splits)
    for (const auto& c : s.classes)
      if (s.name == split && c.name == name) return c;
  FAIL("no class " << split << "/" << name);
  throw std::logic_error("unreachable");
}

double mean_luma(const fs::path& file) {
  const Image img = decode_image(file, ColorMode::rgb);
  double sum = 0;
  for (int64_t i = 0; i < img.num_pixels(); ++i)
    sum += detail::luma601(img.pixels[size_t(3 * i)], img.pixels[size_t(3 * i + 1)],
                           img.pixels[size_t(3 * i + 2)]);
  return sum / double(img.num_pixels());
}

}  // namespace

TEST_CASE("inspect: counts, unreadable files, duplicates, sizes, gray share", "[inspect]") {
  const fs::path gray_jpg = shared_data / "fer2013/train/happy/Training_10019449.jpg";  // 48x48
  const fs::path gray_png = shared_data / "ckplus48/all/sad/S011_002_00000020.png";     // 48x48
  const fs::path colour_jpg =
      shared_data / "getty-happy-sad/all/sad/gettyimages-101320824-612x612.jpg";
  const fs::path small_jpg = shared_data / "mux-facial-expressions/all/happy/HrithikRoshan_15.jpg";
  const fs::path palette_png = shared_data / "google-happy-sad/all/happy/image32.png";  // 100x100
  for (const auto& f : {gray_jpg, gray_png, colour_jpg, small_jpg, palette_png})
    if (!fs::exists(f)) {
      WARN("skipped: shared data file " << f.string() << " not found");
      return;
    }

  TempDir t;
  const fs::path d = t.path / "set";
  copy_into(gray_jpg, d / "train/happy/a.jpg");
  copy_into(gray_jpg, d / "train/happy/a_copy.jpg");  // redundant copy in the same class
  copy_into(colour_jpg, d / "train/happy/c.jpg");
  write_file(d / "train/happy/empty.jpg", "");
  const std::string colour_bytes = read_file(colour_jpg);
  write_file(d / "train/happy/trunc.jpg", colour_bytes.substr(0, colour_bytes.size() / 2));
  write_file(d / "train/happy/notes.txt", "not an image\n");          // ignored
  fs::create_directory_symlink("..", d / "train/happy/loop");         // never followed
  fs::create_symlink(d / "missing.jpg", d / "train/happy/gone.jpg");  // broken link
  copy_into(gray_png, d / "train/sad/b.png");
  write_file(d / "train/sad/text.jpg", "this is text, not a JPEG\n");
  copy_into(colour_jpg, d / "train/sad/c_relabelled.jpg");  // conflicting label
  copy_into(small_jpg, d / "test/happy/sub/d.jpg");         // nested folder, 21x27
  copy_into(palette_png, d / "test/sad/e.png");
  copy_into(gray_png, d / "test/sad/b_leak.png");  // leakage: in train/sad too

  const DatasetReport r = inspect_dataset(d);
  REQUIRE(r.split_tree);
  REQUIRE(r.splits.size() == 2);
  CHECK(r.splits[0].name == "test");
  CHECK(r.splits[1].name == "train");
  CHECK(r.found() == 12);
  CHECK(r.usable() == 8);

  const ClassReport& th = cls(r, "train", "happy");
  CHECK(th.found == 6);  // a, a_copy, c, empty, gone, trunc
  CHECK(th.usable == 3);
  CHECK(th.unreadable == 3);
  CHECK(th.ignored == 1);
  CHECK(th.redundant == 1);
  CHECK(th.grayscale == 2);
  const ClassReport& ts = cls(r, "train", "sad");
  CHECK((ts.found == 3 && ts.usable == 2 && ts.unreadable == 1 && ts.ignored == 0));
  CHECK(ts.redundant == 0);
  CHECK(ts.grayscale == 1);
  const ClassReport& eh = cls(r, "test", "happy");
  CHECK((eh.found == 1 && eh.usable == 1 && eh.grayscale == 0 && eh.redundant == 0));
  CHECK(eh.mean_brightness == Approx(mean_luma(small_jpg)).epsilon(1e-9));
  const ClassReport& es = cls(r, "test", "sad");
  CHECK((es.found == 2 && es.usable == 2 && es.redundant == 0));
  CHECK(es.mean_brightness ==
        Approx((mean_luma(palette_png) + mean_luma(gray_png)) / 2).epsilon(1e-9));
  CHECK(th.mean_brightness ==
        Approx((2 * mean_luma(gray_jpg) + mean_luma(colour_jpg)) / 3).epsilon(1e-9));

  // Unreadable files in path order, each with the decoder's reason.
  REQUIRE(r.unreadable.size() == 4);
  const std::vector<std::string> bad_files{"train/happy/empty.jpg", "train/happy/gone.jpg",
                                           "train/happy/trunc.jpg", "train/sad/text.jpg"};
  const std::vector<std::string> reasons{"empty file (0 bytes)", "broken symbolic link",
                                         "truncated or corrupt", "not a supported image"};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(r.unreadable[i].path.lexically_relative(d).generic_string() == bad_files[i]);
    CHECK_THAT(r.unreadable[i].reason, Catch::Contains(reasons[i]));
    CHECK_THAT(r.unreadable[i].reason, !Catch::Contains(d.string()));  // prefix stripped
  }
  CHECK(rel(r, r.ignored) == std::vector<std::string>{"train/happy/notes.txt"});
  CHECK(r.unlabelled.empty());

  // Duplicate groups ordered by their first file in path order (test/ before train/).
  REQUIRE(r.duplicates.size() == 3);
  CHECK(rel(r, r.duplicates[0].files) ==
        std::vector<std::string>{"test/sad/b_leak.png", "train/sad/b.png"});
  CHECK((r.duplicates[0].leakage && !r.duplicates[0].conflicting_labels));
  CHECK(rel(r, r.duplicates[1].files) ==
        std::vector<std::string>{"train/happy/a.jpg", "train/happy/a_copy.jpg"});
  CHECK((!r.duplicates[1].leakage && !r.duplicates[1].conflicting_labels));
  CHECK(rel(r, r.duplicates[2].files) ==
        std::vector<std::string>{"train/happy/c.jpg", "train/sad/c_relabelled.jpg"});
  CHECK((!r.duplicates[2].leakage && r.duplicates[2].conflicting_labels));
  CHECK(r.duplicates[2].classes == std::vector<std::string>{"happy", "sad"});
  CHECK(r.redundant_files() == 3);

  // Sizes: 48x48 (a twice, b twice), the 408x612 colour photo (twice), 21x27, 100x100.
  CHECK(r.sizes.min_width == 21);
  CHECK(r.sizes.min_height == 27);
  CHECK(r.sizes.max_width == 408);  // the colour photo is 408x612
  CHECK(r.sizes.max_height == 612);
  CHECK(r.sizes.median_width == 48);
  CHECK(r.sizes.small == 1);

  std::ostringstream os;
  print_report(os, r);
  const std::string text = os.str();
  CHECK_THAT(text, Catch::Contains("12 images found, 8 usable"));
  CHECK_THAT(text, Catch::Contains("3 groups, 3 redundant files"));
  CHECK_THAT(text, Catch::Contains("train/happy/c.jpg = train/sad/c_relabelled.jpg"));
  CHECK_THAT(text, Catch::Contains("test/sad/b_leak.png = train/sad/b.png"));
  CHECK_THAT(text, Catch::Contains("train/sad/text.jpg: "));
  const nlohmann::json j = to_json(r);
  CHECK(j["usable"] == 8);
  CHECK(j["conflicting_label_groups"] == 1);
  CHECK(j["leakage_groups"] == 1);
  CHECK(j["unreadable"].size() == 4);

  SECTION("same report with 1 thread") {
    const int threads = num_threads();
    set_num_threads(1);
    const nlohmann::json j1 = to_json(inspect_dataset(d));
    set_num_threads(threads);
    CHECK(j1 == j);
  }
  SECTION("pixel limit checked before decoding") {
    InspectOptions opt;
    opt.max_pixels = 100 * 100;  // the 408x612 photos are over it
    const DatasetReport lim = inspect_dataset(d, opt);
    CHECK(lim.usable() == 6);
    REQUIRE(lim.unreadable.size() == 6);
    CHECK(lim.unreadable[0].path.filename() == "c.jpg");
    CHECK_THAT(lim.unreadable[0].reason, Catch::Contains("exceeds the limit of 10000 pixels"));
    CHECK(lim.unreadable[4].path.filename() == "c_relabelled.jpg");
    CHECK(lim.duplicates.size() == 2);
  }
  SECTION("a class-folder tree") {
    const DatasetReport tr = inspect_dataset(d / "train");
    CHECK(!tr.split_tree);
    REQUIRE(tr.splits.size() == 1);
    CHECK(tr.splits[0].name.empty());
    CHECK(tr.splits[0].classes.size() == 2);
    CHECK(tr.usable() == 5);
    CHECK(tr.duplicates.size() == 2);
  }
  SECTION("no usable image: a report, not an error") {
    copy_into(gray_jpg, t.path / "flat/x.jpg");  // images but no class folders
    copy_into(gray_png, t.path / "flat/y.png");
    const DatasetReport cf = inspect_dataset(t.path / "flat");
    CHECK(cf.usable() == 0);
    CHECK(rel(cf, cf.unlabelled) == std::vector<std::string>{"x.jpg", "y.png"});
    std::ostringstream co;
    print_report(co, cf);
    CHECK_THAT(co.str(), Catch::Contains("images outside any class folder (not inspected): 2"));
    fs::create_directories(t.path / "empty/happy");
    const DatasetReport e = inspect_dataset(t.path / "empty");
    CHECK((e.found() == 0 && e.usable() == 0 && e.duplicates.empty()));
    std::ostringstream eo;
    print_report(eo, e);
    CHECK_THAT(eo.str(), Catch::Contains("happy has no usable image"));
  }
  SECTION("a missing folder throws, naming it") {
    REQUIRE_THROWS_WITH(inspect_dataset(t.path / "nope"),
                        Catch::Contains("nope") && Catch::Contains("does not exist"));
  }
}

TEST_CASE("inspect: sharpness per class and split, and a warning when one split is blurred",
          "[inspect]") {
  // The measure: a flat image has none; a 0/255 checkerboard's 4-neighbour Laplacian is +-1020
  // at every interior pixel (8 of each sign on 6x6), so its variance is 1020^2.
  CHECK(detail::laplacian_variance(test::make_image(6, 6, 1, std::vector<uint8_t>(36, 77))) == 0);
  std::vector<uint8_t> board(36);
  for (size_t i = 0; i < 36; ++i) board[i] = ((i / 6 + i % 6) % 2) ? 255 : 0;
  CHECK(detail::laplacian_variance(test::make_image(6, 6, 1, board)) == 1020.0 * 1020.0);
  CHECK(detail::laplacian_variance(test::make_image(2, 9, 1, std::vector<uint8_t>(18, 0))) == 0);

  // A split tree whose train/ holds box-blurred copies of test/'s noise images.
  TempDir tmp;
  const int s = 24;
  for (int k = 0; k < 6; ++k) {
    std::vector<uint8_t> sharp(size_t(s * s)), blurred(size_t(s * s));
    for (size_t i = 0; i < sharp.size(); ++i)
      sharp[i] = static_cast<uint8_t>(random_bits(11, uint64_t(k), i));
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {  // 5x5 box blur, clamped at the border
        int sum = 0;
        for (int dy = -2; dy <= 2; ++dy)
          for (int dx = -2; dx <= 2; ++dx)
            sum += sharp[size_t(std::clamp(y + dy, 0, s - 1) * s + std::clamp(x + dx, 0, s - 1))];
        blurred[size_t(y * s + x)] = static_cast<uint8_t>(sum / 25);
      }
    const std::string cls_name = k % 2 ? "happy" : "sad", file = std::to_string(k) + ".png";
    test::write_png(tmp.path / "test" / cls_name / file, s, s, 1, sharp);
    test::write_png(tmp.path / "train" / cls_name / file, s, s, 1, blurred);
  }
  const DatasetReport r = inspect_dataset(tmp.path);
  REQUIRE(r.splits.size() == 2);
  REQUIRE(r.splits[0].name == "test");
  const double sharp = r.splits[0].median_sharpness, blurred = r.splits[1].median_sharpness;
  INFO("test/ " << sharp << ", train/ " << blurred);
  CHECK(sharp > 1000);  // uniform noise: variance 5461 per pixel, times 20 for the Laplacian
  CHECK(blurred < sharp / 10);
  CHECK(cls(r, "train", "happy").median_sharpness < sharp / 10);
  std::ostringstream os;
  print_report(os, r);
  CHECK_THAT(os.str(), Catch::Contains("warning: split train is much blurrier than split test"));
  CHECK(to_json(r)["splits"][1]["median_sharpness"].get<double>() == blurred);

  // The same images on both sides: no warning.
  fs::remove_all(tmp.path / "train");
  fs::copy(tmp.path / "test", tmp.path / "train", fs::copy_options::recursive);
  std::ostringstream same;
  print_report(same, inspect_dataset(tmp.path));
  CHECK_THAT(same.str(), !Catch::Contains("much blurrier"));
}

TEST_CASE("inspect: fer2013's known duplicates and conflicting labels", "[inspect]") {
  const fs::path dir = shared_data / "fer2013";
  if (!fs::is_directory(dir)) {
    WARN("skipped: " << dir.string() << " not found");
    return;
  }
  const DatasetReport r = inspect_dataset(dir);
  REQUIRE(r.split_tree);
  CHECK(r.found() == 19165);
  CHECK(r.usable() == 19165);
  CHECK(r.unreadable.empty());
  CHECK(r.sizes.min_width == 48);
  CHECK(r.sizes.max_height == 48);
  // The data README: 301 groups, 323 redundant files; 299 groups within one split and class
  // (train happy 128, sad 97, neutral 91; test happy 1, sad 1, neutral 2); 2 groups with
  // conflicting labels; no duplicates across train/ and test/.
  CHECK(r.duplicates.size() == 301);
  CHECK(r.redundant_files() == 323);
  CHECK(cls(r, "train", "happy").redundant == 128);
  CHECK(cls(r, "train", "sad").redundant == 97);
  CHECK(cls(r, "train", "neutral").redundant == 91);
  CHECK(cls(r, "test", "happy").redundant == 1);
  CHECK(cls(r, "test", "sad").redundant == 1);
  CHECK(cls(r, "test", "neutral").redundant == 2);
  CHECK(cls(r, "train", "happy").found == 7215);
  CHECK(cls(r, "test", "neutral").found == 607);
  CHECK(r.count_groups(&DuplicateGroup::leakage) == 0);
  std::vector<std::vector<std::string>> conflicting;
  for (const auto& g : r.duplicates)
    if (g.conflicting_labels) conflicting.push_back(rel(r, g.files));
  CHECK(conflicting ==
        std::vector<std::vector<std::string>>{
            {"train/happy/Training_87607167.jpg", "train/neutral/Training_89335926.jpg",
             "train/sad/Training_48621797.jpg"},
            {"train/neutral/Training_20860064.jpg", "train/sad/Training_78533904.jpg"}});
  for (const auto& c : r.splits[0].classes) CHECK(c.grayscale == c.usable);  // gray JPEGs
}
